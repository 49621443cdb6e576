import { compileRule, defaultRules, EventTimeline, recordsOf, replayRecords } from '@tributary/cep';
import { millisOfNanos, nanosFromMillis, topicSpec, type UnderlyingQuote, type UnderlyingTrade } from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';
import { DEFAULT_FLOW_DETECTION } from '../chain/flow-detector';
import { OptionsCollector } from '../collector/options-collector';
import { DEFAULT_SIMULATION_START_MS, MarketSimulator } from './market-simulator';
import { EPISODE_SHAPE, type ScriptedEpisode } from './scenario-script';

const UNDERLYINGS = ['SPY', 'QQQ', 'AAPL', 'TSLA', 'NVDA'];
const INTERVAL_MS = 60_000;
/** Event time simulated: a warm-up for the patterns' baselines, then two rounds of the four episodes. */
const RUN_MS = 14 * 60_000;
/** Event time of the second collection from the same seed, which must replay the first one's start. */
const REPLAY_MS = 5 * INTERVAL_MS;
/**
 * Both collections push about 650,000 events through the whole collector and keep what the patterns
 * read: seconds of CPU, many more on a machine busy with other work. Event time is stepped, so only the
 * duration depends on the machine, never the outcome.
 */
const COLLECTIONS_TIMEOUT_MS = 180_000;
/** What the CEP rules read (the option ticks are left out to keep the test light). */
const KEPT = new Set(['market.quotes', 'market.trades', 'options.chains', 'options.flow']);

interface Published {
  readonly topic: string;
  readonly value: Record<string, unknown>;
}

/**
 * The simulator in scenario mode through the collector in process, stepped through `runMs` of event time
 * (each batch handed to the collector before the next is generated); what the collector published.
 */
async function collect(seed: string, runMs = RUN_MS): Promise<{ published: Published[]; episodes: readonly ScriptedEpisode[] }> {
  const simulator = new MarketSimulator({
    seed,
    pace: 'stepped',
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
  await simulator.advanceTo(DEFAULT_SIMULATION_START_MS + runMs);
  await collector.stop();
  return { published, episodes: simulator.scriptedEpisodes() };
}

const secondsOf = (value: Record<string, unknown>) => millisOfNanos(value['ts'] as string) / 1000;

const valuesOn = (published: readonly Published[], topic: string) =>
  published.filter((record) => record.topic === topic).map((record) => record.value);

describe('simulator scenario mode: scripted episodes for the CEP patterns', () => {
  let run: Awaited<ReturnType<typeof collect>>;
  let again: Awaited<ReturnType<typeof collect>>;

  beforeAll(async () => {
    run = await collect('scenarios');
    again = await collect('scenarios', REPLAY_MS);
  }, COLLECTIONS_TIMEOUT_MS);

  it('plays the four episodes in turn, one per interval of event time, on underlyings drawn from the seed', () => {
    expect(run.episodes.map((episode) => episode.kind).slice(0, 8)).toEqual([
      'momentum-surge', 'volatility-jump', 'liquidity-drain', 'flow-burst',
      'momentum-surge', 'volatility-jump', 'liquidity-drain', 'flow-burst',
    ]);
    for (const [index, episode] of run.episodes.entries()) {
      expect(UNDERLYINGS).toContain(episode.underlying);
      if (index > 0) expect(episode.startMs - run.episodes[index - 1].startMs).toBeGreaterThanOrEqual(INTERVAL_MS);
    }
    // The same seed plays the same episodes, at the same event times, on the same underlyings.
    expect(again.episodes.length).toBeGreaterThanOrEqual(4);
    expect(again.episodes).toEqual(run.episodes.slice(0, again.episodes.length));
  });

  it('publishes the same underlying quotes, trades and chain snapshots, record for record, from the same seed', () => {
    for (const topic of ['market.quotes', 'market.trades', 'options.chains']) {
      const replayed = valuesOn(again.published, topic);
      const original = valuesOn(run.published, topic).slice(0, replayed.length);
      expect(replayed.length).toBeGreaterThan(0);
      // Compared as JSON: tens of thousands of records, and the first difference is what a failure needs.
      const firstDifference = replayed.findIndex((value, index) => JSON.stringify(value) !== JSON.stringify(original[index]));
      expect({ topic, firstDifference }).toEqual({ topic, firstDifference: -1 });
    }
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

  it("fires the CEP engine's built-in MOMENTUM_SURGE, VOLUME_ANOMALY, VOLATILITY_SPIKE, LIQUIDITY_DRAIN and OPTION_FLOW with their default parameters during each episode, on its underlying", () => {
    const rules = new Map(defaultRules().map((spec) => [spec.builtin, compileRule(spec)]));
    // Engine records made once for all the patterns, on a timeline based at the first event's time.
    const [first] = run.published;
    const firstSpec = topicSpec(first.topic);
    if (!firstSpec) throw new Error(`no topic ${first.topic} in the catalog`);
    const timeline = new EventTimeline(firstSpec.eventTime(first.value as never) as string);
    const records = recordsOf(run.published, timeline);
    const engineTimeOf = (ms: number) => timeline.toEngineTime(nanosFromMillis(ms));
    /** Alerts of a built-in pattern per key, as the event times of their last events. */
    const alertTimesOf = (builtin: string) => {
      const rule = rules.get(builtin);
      if (!rule) throw new Error(`no built-in pattern ${builtin}`);
      const times = new Map<string, number[]>();
      for (const match of replayRecords(rule, records).matches) times.set(match.key, [...(times.get(match.key) ?? []), match.lastEventTs]);
      return times;
    };
    const runEndMs = DEFAULT_SIMULATION_START_MS + RUN_MS;
    // [pattern, episode it detects, event time it needs before an episode to have a baseline]:
    // VOLUME_ANOMALY compares with at least 30 buckets of 10 s of the symbol's volume.
    const expectations: [string, ScriptedEpisode['kind'], number][] = [
      ['MOMENTUM_SURGE', 'momentum-surge', 0],
      ['VOLUME_ANOMALY', 'momentum-surge', 300_000],
      ['VOLATILITY_SPIKE', 'volatility-jump', 0],
      ['LIQUIDITY_DRAIN', 'liquidity-drain', 0],
      ['OPTION_FLOW', 'flow-burst', 0],
    ];
    for (const [builtin, kind, baselineMs] of expectations) {
      const alerts = alertTimesOf(builtin);
      // Episodes with their baseline behind them and a minute and a half of event time to play out.
      const episodes = run.episodes.filter(
        (episode) => episode.kind === kind && episode.startMs >= DEFAULT_SIMULATION_START_MS + baselineMs && episode.startMs <= runEndMs - 90_000,
      );
      expect({ builtin, episodesToDetect: episodes.length > 0 }).toEqual({ builtin, episodesToDetect: true });
      const missed = episodes.filter((episode) => {
        const from = engineTimeOf(episode.startMs);
        const to = engineTimeOf(episode.startMs + 90_000);
        return !(alerts.get(episode.underlying) ?? []).some((ts) => ts >= from && ts <= to);
      });
      expect({ builtin, missed: missed.map((episode) => `${episode.underlying} at ${new Date(episode.startMs).toISOString()}`) }).toEqual({ builtin, missed: [] });
    }
  });
});
