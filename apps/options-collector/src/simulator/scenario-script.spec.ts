import { compileRule, defaultRules, replayRule } from '@tributary/cep';
import { millisOfNanos, type UnderlyingQuote, type UnderlyingTrade } from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';
import { DEFAULT_FLOW_DETECTION } from '../chain/flow-detector';
import { OptionsCollector } from '../collector/options-collector';
import { DEFAULT_SIMULATION_START_MS, MarketSimulator } from './market-simulator';
import { EPISODE_SHAPE, type ScriptedEpisode } from './scenario-script';

const UNDERLYINGS = ['SPY', 'QQQ', 'AAPL', 'TSLA', 'NVDA'];
const INTERVAL_MS = 60_000;
/** Event time simulated: a warm-up for the patterns' baselines, then two rounds of the four episodes. */
const RUN_MS = 14 * 60_000;
/** What the CEP rules read (the option ticks are left out to keep the test light). */
const KEPT = new Set(['market.quotes', 'market.trades', 'options.chains', 'options.flow']);

interface Published {
  readonly topic: string;
  readonly value: Record<string, unknown>;
}

/** The simulator in scenario mode through the collector in process; what the collector published. */
async function collect(seed: string, runMs = RUN_MS): Promise<{ published: Published[]; episodes: readonly ScriptedEpisode[] }> {
  const simulator = new MarketSimulator({
    seed,
    pace: 'as-fast-as-possible',
    eventsPerSecond: 500,
    scenarios: { intervalMs: INTERVAL_MS },
  });
  const published: Published[] = [];
  const producer = {
    producerId: 'options-collector/scenario-test',
    connect: async () => undefined,
    send: async (topic: string, records: Record<string, unknown>[]) => {
      if (KEPT.has(topic)) for (const value of records) published.push({ topic, value });
    },
    sendRaw: async () => undefined,
  } as unknown as TypedProducer;
  const collector = new OptionsCollector(simulator, producer, {
    underlyings: UNDERLYINGS,
    selection: { strikesPerExpiration: 10, maxDaysToExpiry: 30, maxContracts: 1000 },
    snapshotIntervalMs: 5_000,
    riskFreeRate: 0.045,
    flow: DEFAULT_FLOW_DETECTION,
  });
  collector.start();
  await collector.started();
  while (millisOfNanos(simulator.nowNanos()) < DEFAULT_SIMULATION_START_MS + runMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await collector.stop();
  return { published, episodes: simulator.scriptedEpisodes() };
}

const secondsOf = (value: Record<string, unknown>) => millisOfNanos(value['ts'] as string) / 1000;

describe('simulator scenario mode: scripted episodes for the CEP patterns', () => {
  let run: Awaited<ReturnType<typeof collect>>;

  beforeAll(async () => {
    run = await collect('scenarios');
  }, 120_000);

  it('plays the four episodes in turn, one per interval of event time, on underlyings drawn from the seed', async () => {
    expect(run.episodes.map((episode) => episode.kind).slice(0, 8)).toEqual([
      'momentum-surge', 'volatility-jump', 'liquidity-drain', 'flow-burst',
      'momentum-surge', 'volatility-jump', 'liquidity-drain', 'flow-burst',
    ]);
    for (const [index, episode] of run.episodes.entries()) {
      expect(UNDERLYINGS).toContain(episode.underlying);
      if (index > 0) expect(episode.startMs - run.episodes[index - 1].startMs).toBeGreaterThanOrEqual(INTERVAL_MS);
    }
    // The same seed plays the same episodes, at the same event times, on the same underlyings.
    const again = await collect('scenarios', 5 * INTERVAL_MS);
    expect(again.episodes.length).toBeGreaterThanOrEqual(4);
    expect(again.episodes).toEqual(run.episodes.slice(0, again.episodes.length));
  });

  it('a momentum surge moves the price at least 1.5% within 60 s on at least 3 times the usual volume', () => {
    for (const surge of run.episodes.filter((episode) => episode.kind === 'momentum-surge')) {
      const trades = run.published
        .filter((record) => record.topic === 'market.trades' && record.value['symbol'] === surge.underlying)
        .map((record) => record.value as unknown as UnderlyingTrade.Value);
      const start = surge.startMs / 1000;
      const before = trades.filter((trade) => secondsOf(trade) >= start - 300 && secondsOf(trade) < start);
      const during = trades.filter((trade) => secondsOf(trade) >= start && secondsOf(trade) < start + EPISODE_SHAPE.surgeMs / 1000);
      const usualPerWindow = (before.reduce((sum, trade) => sum + trade.size, 0) / 300) * (EPISODE_SHAPE.surgeMs / 1000);
      const volume = during.reduce((sum, trade) => sum + trade.size, 0);
      expect(volume).toBeGreaterThanOrEqual(3 * usualPerWindow);
      const move = Math.abs(during[during.length - 1].price / before[before.length - 1].price - 1);
      expect(move).toBeGreaterThanOrEqual(0.015);
    }
  });

  it('a liquidity drain shows at least 4 consecutive thinning quotes ending with half the size and twice the spread, within 10 s', () => {
    for (const drain of run.episodes.filter((episode) => episode.kind === 'liquidity-drain')) {
      const quotes = run.published
        .filter((record) => record.topic === 'market.quotes' && record.value['symbol'] === drain.underlying)
        .map((record) => record.value as unknown as UnderlyingQuote.Value);
      const first = quotes.findIndex((quote) => secondsOf(quote) >= drain.startMs / 1000);
      const from = quotes[first - 1];
      const run_ = quotes.slice(first, first + EPISODE_SHAPE.drainQuotes);
      const depth = (quote: UnderlyingQuote.Value) => quote.bidSize + quote.askSize;
      const spread = (quote: UnderlyingQuote.Value) => Math.round((quote.askPrice - quote.bidPrice) * 100);
      [from, ...run_].slice(1).forEach((quote, index) => {
        const previous = index === 0 ? from : run_[index - 1];
        expect(depth(quote)).toBeLessThan(depth(previous));
        expect(spread(quote)).toBeGreaterThan(spread(previous));
      });
      const last = run_[run_.length - 1];
      expect(depth(last)).toBeLessThanOrEqual(depth(from) / 2);
      expect(spread(last)).toBeGreaterThanOrEqual(2 * spread(from));
      expect(secondsOf(last) - secondsOf(from)).toBeLessThan(10);
    }
  });

  it("fires the CEP engine's built-in MOMENTUM_SURGE, VOLUME_ANOMALY, VOLATILITY_SPIKE, LIQUIDITY_DRAIN and OPTION_FLOW with their default parameters on the episodes' underlyings", () => {
    const rules = new Map(defaultRules().map((spec) => [spec.builtin, compileRule(spec)]));
    const keysOf = (builtin: string) => {
      const rule = rules.get(builtin);
      if (!rule) throw new Error(`no built-in pattern ${builtin}`);
      return new Set(replayRule(rule, run.published).alerts.map((alert) => alert.key));
    };
    // Episodes that had a minute and a half of event time to play out before the run ended.
    const played = run.episodes.filter((episode) => episode.startMs <= DEFAULT_SIMULATION_START_MS + RUN_MS - 90_000);
    const underlyingsOf = (kind: ScriptedEpisode['kind']) => played.filter((episode) => episode.kind === kind).map((episode) => episode.underlying);
    const expectations: [string, ScriptedEpisode['kind']][] = [
      ['MOMENTUM_SURGE', 'momentum-surge'],
      ['VOLUME_ANOMALY', 'momentum-surge'],
      ['VOLATILITY_SPIKE', 'volatility-jump'],
      ['LIQUIDITY_DRAIN', 'liquidity-drain'],
      ['OPTION_FLOW', 'flow-burst'],
    ];
    for (const [builtin, kind] of expectations) {
      const fired = keysOf(builtin);
      const scripted = underlyingsOf(kind);
      expect(scripted.length).toBeGreaterThan(0);
      expect({ builtin, missing: scripted.filter((underlying) => !fired.has(underlying)) }).toEqual({ builtin, missing: [] });
    }
  });
});
