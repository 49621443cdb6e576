import type { SeededRandom } from './seeded-random';

/** The market episodes the simulator can script for the CEP engine's built-in patterns. */
export const SCENARIO_KINDS = ['momentum-surge', 'volatility-jump', 'liquidity-drain', 'flow-burst'] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export interface ScenarioConfig {
  /** Event time between the starts of two scripted episodes. */
  readonly intervalMs: number;
  /** Episodes played in turn (all by default). */
  readonly kinds?: readonly ScenarioKind[];
}

/** One scripted episode: what, on which underlying, from when (event time, ms). */
export interface ScriptedEpisode {
  readonly kind: ScenarioKind;
  readonly underlying: string;
  readonly startMs: number;
}

/**
 * The shape of each episode, sized to clear the CEP built-in patterns' defaults with room to spare:
 * - momentum surge: the price moves `surgeMove` (either way) over `surgeMs` with extra prints of
 *   `surgeTradeLots` round lots each, about one every `1 / surgeTradeShare` events (MOMENTUM_SURGE:
 *   1% in 60 s on 3x the usual volume; VOLUME_ANOMALY: 10 s buckets at 4 sigma and 3x the mean);
 * - volatility jump: implied volatility up by `volJumpShare` of itself, at least `volJumpMin` (absolute),
 *   for `volJumpMs` (VOLATILITY_SPIKE: +5 vol points and 3 sigma over the last 5 minutes);
 * - liquidity drain: `drainQuotes` consecutive quotes of the underlying, each with `drainKeep` of the
 *   displayed size before it and the spread a cent wider (LIQUIDITY_DRAIN: 4 quotes, -50% size, 2x spread);
 * - flow burst: `flowPrints` sweeps and blocks on a near-the-money contract, each of at least
 *   `flowPremium` USD, `flowGapMs` apart (OPTION_FLOW: 5 of at least 200 000 USD within 60 s).
 */
export const EPISODE_SHAPE = {
  surgeMove: 0.02,
  surgeMs: 30_000,
  surgeTradeShare: 0.1,
  surgeTradeLots: [5, 20] as const,
  volJumpShare: 0.4,
  volJumpMin: 0.08,
  volJumpMs: 240_000,
  drainQuotes: 8,
  drainKeep: 0.65,
  flowPrints: 5,
  flowPremium: 200_000,
  flowGapMs: 3_000,
} as const;

/**
 * When the next episode starts and which one: every `intervalMs` of event time the next kind in turn,
 * on an underlying drawn from the seed among those that can play it. Deterministic from the seed.
 */
export class ScenarioSchedule {
  private readonly kinds: readonly ScenarioKind[];
  private nextMs: number;
  private turn = 0;
  private readonly played: ScriptedEpisode[] = [];

  constructor(
    private readonly config: ScenarioConfig,
    private readonly random: SeededRandom,
    startMs: number,
  ) {
    if (!(config.intervalMs > 0)) throw new RangeError('the scenario interval must be positive');
    this.kinds = config.kinds && config.kinds.length > 0 ? config.kinds : SCENARIO_KINDS;
    this.nextMs = startMs + config.intervalMs;
  }

  /** The episode due at `nowMs`, if any; `candidates(kind)` lists the underlyings able to play it. */
  due(nowMs: number, candidates: (kind: ScenarioKind) => readonly string[]): ScriptedEpisode | undefined {
    if (nowMs < this.nextMs) return undefined;
    this.nextMs = nowMs + this.config.intervalMs;
    const kind = this.kinds[this.turn++ % this.kinds.length];
    const choices = candidates(kind);
    if (choices.length === 0) return undefined;
    const episode = { kind, underlying: choices[this.random.integer(0, choices.length - 1)], startMs: nowMs };
    this.played.push(episode);
    if (this.played.length > 100) this.played.shift();
    return episode;
  }

  /** The last episodes played, oldest first. */
  history(): readonly ScriptedEpisode[] {
    return this.played;
  }
}
