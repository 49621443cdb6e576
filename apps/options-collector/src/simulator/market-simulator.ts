import {
  parseOccSymbol,
  type OptionQuote,
  type OptionRight,
  type OptionTrade,
  type UnderlyingQuote,
  type UnderlyingTrade,
} from '@tributary/contracts';
import { RuleBasedListing, type ListedProduct } from '../chain/contract-listing';
import { dayNumber, sessionCloseMs } from '../chain/market-calendar';
import { ALL_FAULT_KINDS, FaultInjector } from './fault-injector';
import type { FaultKind, MarketEvent, MarketEventListener, MarketSource } from './market-source';
import {
  OPTION_EXCHANGE_CODES,
  OPTION_EXCHANGE_WEIGHT_TOTAL,
  OPTION_EXCHANGE_WEIGHTS,
  OPTION_TRADE_CONDITIONS,
  STOCK_EXCHANGE_CODES,
} from './opra';
import { bsmPrice } from './pricing';
import { EPISODE_SHAPE, type ScenarioConfig, type ScenarioKind, ScenarioSchedule, type ScriptedEpisode } from './scenario-script';
import { hashText, SeededRandom } from './seeded-random';
import { SimulatedClock, type TradingSessions } from './simulated-clock';
import {
  DEFAULT_REGIMES,
  DEFAULT_UNDERLYINGS,
  type UnderlyingProfile,
  type VolatilityRegime,
} from './underlying-profiles';
import { VolatilitySurface } from './volatility-surface';

export interface MarketSimulatorConfig {
  /** Same seed, same configuration and same subscriptions: the same stream, record for record. */
  readonly seed: number | string;
  /** Event time of the first event, epoch ms (default 2025-03-03 09:30 New York). */
  readonly startMs?: number;
  /** Mean events per second of event time (Poisson arrivals). */
  readonly eventsPerSecond?: number;
  /**
   * 'wall-clock': event time advances as fast as the wall clock (times `speed`); 'as-fast-as-possible':
   * events are produced as fast as listeners take them, event time running ahead; 'stepped': no loop of
   * its own, events are delivered only when `advanceTo` is called (tests and replays that drive the
   * market by hand, whatever the speed of the machine).
   */
  readonly pace?: 'wall-clock' | 'as-fast-as-possible' | 'stepped';
  /** Event seconds per wall second in 'wall-clock' pace (default 1). */
  readonly speed?: number;
  /** 'regular': 09:30-16:00 New York on trading days only; 'continuous': around the clock. */
  readonly sessions?: TradingSessions;
  readonly underlyings?: readonly UnderlyingProfile[];
  readonly regimes?: readonly VolatilityRegime[];
  readonly riskFreeRate?: number;
  /** Relative weights of the kinds of events. */
  readonly mix?: {
    readonly underlyingQuote: number;
    readonly underlyingTrade: number;
    readonly optionQuote: number;
    readonly optionTrade: number;
  };
  /** Share of option trades that are multi-exchange sweeps, and that are blocks. */
  readonly sweepProbability?: number;
  readonly blockProbability?: number;
  /** Corrupt this fraction of records (0 by default) with these kinds of faults (all by default). */
  readonly faults?: { readonly fraction: number; readonly kinds?: readonly FaultKind[] };
  /**
   * Scripted episodes for the CEP engine's built-in patterns (momentum surge with a volume burst,
   * implied-volatility jump, liquidity drain, burst of sweeps and blocks), one every `intervalMs` of
   * event time, on underlyings drawn from the seed. Off when absent.
   */
  readonly scenarios?: ScenarioConfig;
  /** Events per listener call. */
  readonly batchSize?: number;
  /** Called when a listener throws or rejects; the simulator keeps running. */
  readonly onListenerError?: (error: unknown) => void;
}

/** 2025-03-03 (a Monday) 09:30 New York. */
export const DEFAULT_SIMULATION_START_MS = Date.UTC(2025, 2, 3, 14, 30);

const MS_PER_YEAR = 365 * 86_400_000;
const TRADING_DAYS_PER_YEAR = 252;

interface UnderlyingState {
  readonly profile: UnderlyingProfile;
  readonly surface: VolatilitySurface;
  price: number;
  regime: number;
  /** Event time (ms) the price was last evolved to. */
  evolvedAtMs: number;
  subscribed: boolean;
  /** Subscribed contracts, unordered (swap-remove keeps removal O(1)). */
  readonly options: OptionState[];
  tradeSequence: number;
  /** Displayed size (bid + ask) and spread in cents of the last quote. */
  lastDepth: number;
  lastSpreadCents: number;
  /** Scripted episodes in progress (scenario mode). */
  surge: { readonly startMs: number; readonly untilMs: number; readonly logMove: number } | undefined;
  volJumpUntilMs: number;
  drain: { left: number; depth: number; spreadCents: number } | undefined;
  flowBurst: { left: number; nextMs: number } | undefined;
}

interface OptionState {
  readonly symbol: string;
  readonly underlying: UnderlyingState;
  readonly expiration: string;
  readonly strike: number;
  readonly right: OptionRight;
  readonly expiryMs: number;
  readonly openInterest: number;
  index: number;
  session: number;
  dayVolume: number;
}

interface Nbbo {
  bidPrice: number;
  bidSize: number;
  askPrice: number;
  askSize: number;
  /** Tick in cents: 1 under $3, 5 above (penny program). */
  tickCents: number;
}

/**
 * A market that behaves like the real one, with no account and no network: each underlying follows a
 * jump-diffusion (Merton) whose volatility switches between regimes (Markov chain); option quotes come
 * from a volatility surface with term structure, skew and smile, with spreads that widen with price and
 * away from the money; trades print on the OPRA exchanges, including multi-exchange sweeps and blocks.
 * Everything is drawn from one seeded generator against a simulated clock, so a run is reproducible.
 */
export class MarketSimulator implements MarketSource {
  readonly name = 'simulator';
  readonly listing: RuleBasedListing;

  private readonly random: SeededRandom;
  private readonly clock: SimulatedClock;
  private readonly faults: FaultInjector | undefined;
  private readonly underlyings = new Map<string, UnderlyingState>();
  private readonly optionsBySymbol = new Map<string, OptionState>();
  private readonly listeners = new Set<MarketEventListener>();
  private readonly regimes: readonly VolatilityRegime[];
  private readonly rate: number;
  private readonly eventsPerSecond: number;
  private readonly mix: readonly number[];
  private readonly mixTotal: number;
  private readonly sweepProbability: number;
  private readonly blockProbability: number;
  private readonly seed: string;
  private readonly schedule: ScenarioSchedule | undefined;
  private readonly scenarioRandom: SeededRandom;
  /** Underlyings with anything subscribed, and their activity weights. */
  private active: UnderlyingState[] = [];
  private activeWeights: number[] = [];
  private activeWeightTotal = 0;
  private pending: MarketEvent[] = [];
  private running: Promise<void> | undefined;
  private advancing: Promise<number> | undefined;
  private stopping = false;

  constructor(private readonly config: MarketSimulatorConfig) {
    this.seed = String(config.seed);
    this.random = new SeededRandom(`${this.seed}:market`);
    // At wall-clock pace the clock never jumps past real time (after-hours sessions once caught up).
    this.clock = new SimulatedClock(
      config.startMs ?? DEFAULT_SIMULATION_START_MS,
      config.sessions ?? 'regular',
      config.pace === undefined || config.pace === 'wall-clock' ? () => Date.now() : undefined,
    );
    this.regimes = config.regimes ?? DEFAULT_REGIMES;
    this.rate = config.riskFreeRate ?? 0.045;
    this.eventsPerSecond = config.eventsPerSecond ?? 2_000;
    if (!(this.eventsPerSecond > 0)) throw new RangeError('eventsPerSecond must be positive');
    const mix = config.mix ?? { underlyingQuote: 20, underlyingTrade: 8, optionQuote: 60, optionTrade: 12 };
    this.mix = [mix.underlyingQuote, mix.underlyingTrade, mix.optionQuote, mix.optionTrade];
    this.mixTotal = this.mix.reduce((sum, weight) => sum + weight, 0);
    this.sweepProbability = config.sweepProbability ?? 0.03;
    this.blockProbability = config.blockProbability ?? 0.01;
    if (config.faults && config.faults.fraction > 0) {
      this.faults = new FaultInjector(
        config.faults.fraction,
        config.faults.kinds ?? ALL_FAULT_KINDS,
        new SeededRandom(`${this.seed}:faults`),
      );
    }
    const products = new Map<string, ListedProduct>();
    const normalRegime = Math.max(0, this.regimes.findIndex((regime) => regime.volMultiplier === 1));
    for (const profile of config.underlyings ?? DEFAULT_UNDERLYINGS) {
      products.set(profile.symbol, profile.product);
      this.underlyings.set(profile.symbol, {
        profile,
        surface: new VolatilitySurface(profile),
        price: profile.initialPrice,
        regime: normalRegime,
        evolvedAtMs: this.clock.nowMs,
        subscribed: false,
        options: [],
        tradeSequence: 0,
        lastDepth: 0,
        lastSpreadCents: 0,
        surge: undefined,
        volJumpUntilMs: Number.NEGATIVE_INFINITY,
        drain: undefined,
        flowBurst: undefined,
      });
    }
    this.listing = new RuleBasedListing(products);
    this.scenarioRandom = new SeededRandom(`${this.seed}:scenarios`);
    this.schedule = config.scenarios ? new ScenarioSchedule(config.scenarios, this.scenarioRandom, this.clock.nowMs) : undefined;
  }

  /** The scripted episodes played so far (the last 100), oldest first; empty without scenario mode. */
  scriptedEpisodes(): readonly ScriptedEpisode[] {
    return this.schedule?.history() ?? [];
  }

  /** Current event time, epoch ns. */
  nowNanos(): string {
    return this.clock.nowNanos();
  }

  /** The simulated underlying price now (the mid its quotes are built around). */
  underlyingPrice(symbol: string): number | undefined {
    return this.underlyings.get(symbol)?.price;
  }

  /** The underlying's current volatility regime, e.g. "calm", "normal", "stressed". */
  regimeOf(symbol: string): string | undefined {
    const state = this.underlyings.get(symbol);
    return state ? this.regimes[state.regime].name : undefined;
  }

  onEvents(listener: MarketEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async subscribe(symbols: readonly string[]): Promise<void> {
    for (const symbol of symbols) {
      const underlying = this.underlyings.get(symbol);
      if (underlying) {
        underlying.subscribed = true;
        continue;
      }
      if (this.optionsBySymbol.has(symbol)) continue;
      const contract = parseOccSymbol(symbol);
      const parent = contract && this.underlyings.get(contract.root);
      if (!contract || !parent) throw new RangeError(`the simulator lists no ${symbol}`);
      const option: OptionState = {
        symbol,
        underlying: parent,
        expiration: contract.expiration,
        strike: contract.strike,
        right: contract.right,
        expiryMs: sessionCloseMs(dayNumber(contract.expiration)),
        openInterest: this.openInterestOf(symbol, parent.profile, contract.strike, contract.expiration),
        index: parent.options.length,
        session: this.clock.session,
        dayVolume: 0,
      };
      parent.options.push(option);
      this.optionsBySymbol.set(symbol, option);
    }
    this.refreshActive();
  }

  async unsubscribe(symbols: readonly string[]): Promise<void> {
    for (const symbol of symbols) {
      const underlying = this.underlyings.get(symbol);
      if (underlying) {
        underlying.subscribed = false;
        continue;
      }
      const option = this.optionsBySymbol.get(symbol);
      if (!option) continue;
      // Swap-remove: the last sibling takes the leaving option's slot (the list holds `option`, so it is not empty).
      const siblings = option.underlying.options;
      const last = siblings.pop();
      if (last && last !== option) {
        siblings[option.index] = last;
        last.index = option.index;
      }
      this.optionsBySymbol.delete(symbol);
    }
    this.refreshActive();
  }

  subscriptions(): ReadonlySet<string> {
    const symbols = new Set<string>(this.optionsBySymbol.keys());
    for (const [symbol, state] of this.underlyings) if (state.subscribed) symbols.add(symbol);
    return symbols;
  }

  openInterest(symbol: string): number | undefined {
    return this.optionsBySymbol.get(symbol)?.openInterest;
  }

  dividendYield(underlying: string): number | undefined {
    return this.underlyings.get(underlying)?.profile.dividendYield;
  }

  /** Session volume of a subscribed contract so far. */
  dayVolume(symbol: string): number | undefined {
    const option = this.optionsBySymbol.get(symbol);
    if (!option) return undefined;
    return option.session === this.clock.session ? option.dayVolume : 0;
  }

  /**
   * The next `count` events, synchronously (for tests, benchmarks and replays); empty when nothing is
   * subscribed. The running loop uses the same path.
   */
  generate(count: number): MarketEvent[] {
    if (this.active.length === 0) return [];
    while (this.pending.length < count) this.step();
    if (this.pending.length === count) {
      const batch = this.pending;
      this.pending = [];
      return batch;
    }
    return this.pending.splice(0, count);
  }

  /**
   * Before `start`: moves the simulated clock past `eventTimeMs` (the latest event time already
   * published), so a restarted simulator goes on in event time instead of replaying its first day.
   * Prices continue from where the model starts; only the clock moves. Returns whether it moved.
   */
  resumeAfter(eventTimeMs: number, nowMs = Date.now()): boolean {
    if (this.running) return false;
    // Never into the future: events later than the wall clock fail validation. A time whose next
    // session opens after now (e.g. published at today's close) goes on after hours until that open.
    if (eventTimeMs + 1 > nowMs) return false;
    this.clock.jumpTo(eventTimeMs + 1, nowMs);
    for (const state of this.underlyings.values()) state.evolvedAtMs = this.clock.nowMs;
    return true;
  }

  /**
   * Delivers the events up to event time `eventTimeMs` to the listeners, batch by batch, waiting for each
   * listener call as the running loop does, so a listener's subscription changes apply from the next
   * batch on and the stream is the one the as-fast-as-possible pace produces. The clock ends at
   * `eventTimeMs` or just past it (the arrival that reached it). Only while no loop runs (pace 'stepped');
   * after `stop` it delivers nothing until `start`. Returns the number of events delivered.
   */
  async advanceTo(eventTimeMs: number): Promise<number> {
    if (this.running) throw new Error("the simulator runs at its own pace; advanceTo needs pace 'stepped'");
    if (this.advancing) throw new Error('the simulator is already advancing; await the previous advanceTo');
    const advance = this.deliverUntil(eventTimeMs);
    this.advancing = advance;
    try {
      return await advance;
    } finally {
      if (this.advancing === advance) this.advancing = undefined;
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.stopping = false;
    if (this.config.pace === 'stepped') return;
    this.running = this.config.pace === 'as-fast-as-possible' ? this.runFast() : this.runPaced();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([this.running, this.advancing?.catch(() => undefined)]);
    this.running = undefined;
  }

  private async deliverUntil(eventTimeMs: number): Promise<number> {
    const batchSize = this.config.batchSize ?? 1_000;
    let delivered = 0;
    while (!this.stopping) {
      const batch = this.generateUntil(eventTimeMs, batchSize);
      if (batch.length === 0) break;
      await this.deliver(batch);
      delivered += batch.length;
    }
    return delivered;
  }

  /** Up to `max` events, generated while event time is before `eventTimeMs` (leftovers of a sweep first). */
  private generateUntil(eventTimeMs: number, max: number): MarketEvent[] {
    if (this.active.length === 0) return [];
    while (this.pending.length < max && this.clock.nowMs < eventTimeMs) this.step();
    return this.pending.splice(0, max);
  }

  private async runFast(): Promise<void> {
    const batchSize = this.config.batchSize ?? 1_000;
    while (!this.stopping) {
      const batch = this.generate(batchSize);
      if (batch.length > 0) await this.deliver(batch);
      // Let I/O and timers run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (batch.length === 0) await sleep(10);
    }
  }

  private async runPaced(): Promise<void> {
    const speed = this.config.speed ?? 1;
    const batchSize = this.config.batchSize ?? 1_000;
    let wallAnchor = performance.now();
    let eventAnchor = this.clock.nowMs;
    let session = this.clock.session;
    while (!this.stopping) {
      // Never ahead of real time, whatever the speed: an event from the future fails validation.
      const target = Math.min(eventAnchor + (performance.now() - wallAnchor) * speed, Date.now());
      const batch: MarketEvent[] = [];
      while (this.active.length > 0 && this.clock.nowMs < target && batch.length < batchSize * 50) {
        batch.push(...this.generate(Math.min(batchSize, 64)));
        if (this.clock.session !== session) {
          // The clock jumped a night or a weekend: carry on from the new open at wall pace.
          session = this.clock.session;
          wallAnchor = performance.now();
          eventAnchor = this.clock.nowMs;
          break;
        }
      }
      if (this.active.length === 0) {
        wallAnchor = performance.now();
        eventAnchor = this.clock.nowMs;
      }
      for (let i = 0; i < batch.length; i += batchSize) await this.deliver(batch.slice(i, i + batchSize));
      await sleep(5);
    }
  }

  private async deliver(batch: readonly MarketEvent[]): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(batch);
      } catch (error) {
        this.config.onListenerError?.(error);
      }
    }
  }

  private refreshActive(): void {
    this.active = [...this.underlyings.values()].filter((state) => state.subscribed || state.options.length > 0);
    this.activeWeights = this.active.map((state) => state.profile.activity);
    this.activeWeightTotal = this.activeWeights.reduce((sum, weight) => sum + weight, 0);
  }

  /** Advances event time to the next arrival and draws what happens then. */
  private step(): void {
    this.clock.advanceSeconds(this.random.exponential(this.eventsPerSecond));
    if (this.schedule) this.playScenarios(this.schedule);
    const state = this.active[this.random.weightedIndex(this.activeWeights, this.activeWeightTotal)];
    this.evolve(state);
    const hasOptions = state.options.length > 0;
    let kind = this.random.weightedIndex(this.mix, this.mixTotal);
    if (!hasOptions && kind >= 2) kind -= 2;
    if (!state.subscribed && kind < 2) kind += 2;
    if (kind >= 2) {
      const option = state.options[this.random.integer(0, state.options.length - 1)];
      if (option.expiryMs <= this.clock.nowMs) {
        // Expired and not yet unsubscribed: nothing quotes it any more.
        if (state.subscribed) this.emit({ topic: 'market.quotes', value: this.underlyingQuote(state) });
        return;
      }
      if (kind === 2) this.emit({ topic: 'options.quotes', value: this.optionQuote(option, this.nbbo(option)) });
      else this.optionTrades(option);
      return;
    }
    if (kind === 0) this.emit({ topic: 'market.quotes', value: this.underlyingQuote(state) });
    else this.emit({ topic: 'market.trades', value: this.underlyingTrade(state) });
  }

  private emit(event: MarketEvent): void {
    this.pending.push(this.faults ? this.faults.maybeCorrupt(event) : event);
  }

  /** Starts the episode due now, and plays the parts of those in progress that are events of their own. */
  private playScenarios(schedule: ScenarioSchedule): void {
    const nowMs = this.clock.nowMs;
    const episode = schedule.due(nowMs, (kind) => this.candidatesFor(kind));
    if (episode) this.begin(episode, nowMs);
    for (const state of this.active) {
      if (state.surge && nowMs < state.surge.untilMs && this.scenarioRandom.chance(EPISODE_SHAPE.surgeTradeShare)) {
        this.evolve(state);
        const [fewest, most] = EPISODE_SHAPE.surgeTradeLots;
        const trade = this.underlyingTrade(state);
        this.emit({ topic: 'market.trades', value: { ...trade, size: 100 * this.scenarioRandom.integer(fewest, most), conditions: ['@'] } });
      }
      if (state.flowBurst && nowMs >= state.flowBurst.nextMs) this.flowPrint(state, state.flowBurst);
    }
  }

  private candidatesFor(kind: ScenarioKind): string[] {
    const needsOptions = kind === 'volatility-jump' || kind === 'flow-burst';
    return this.active.filter((state) => (needsOptions ? state.options.length > 0 : state.subscribed)).map((state) => state.profile.symbol);
  }

  private begin(episode: ScriptedEpisode, nowMs: number): void {
    const state = this.underlyings.get(episode.underlying);
    if (!state) return;
    switch (episode.kind) {
      case 'momentum-surge': {
        const move = this.scenarioRandom.chance(0.5) ? EPISODE_SHAPE.surgeMove : -EPISODE_SHAPE.surgeMove;
        state.surge = { startMs: nowMs, untilMs: nowMs + EPISODE_SHAPE.surgeMs, logMove: Math.log(1 + move) };
        return;
      }
      case 'volatility-jump':
        state.volJumpUntilMs = nowMs + EPISODE_SHAPE.volJumpMs;
        return;
      case 'liquidity-drain':
        state.drain = { left: EPISODE_SHAPE.drainQuotes, depth: Math.max(state.lastDepth, 200), spreadCents: Math.max(state.lastSpreadCents, 1) };
        return;
      case 'flow-burst':
        state.flowBurst = { left: EPISODE_SHAPE.flowPrints, nextMs: nowMs };
        return;
    }
  }

  /** One print of a flow burst: a sweep across four exchanges at the ask, or a block at the mid. */
  private flowPrint(state: UnderlyingState, burst: NonNullable<UnderlyingState['flowBurst']>): void {
    const nowMs = this.clock.nowMs;
    let option: OptionState | undefined;
    let best = Number.POSITIVE_INFINITY;
    for (const candidate of state.options) {
      if (candidate.expiryMs <= nowMs + 86_400_000) continue;
      const distance = Math.abs(Math.log(candidate.strike / state.price));
      if (distance < best - 1e-12 || (Math.abs(distance - best) <= 1e-12 && option !== undefined && candidate.expiryMs > option.expiryMs)) {
        option = candidate;
        best = distance;
      }
    }
    burst.left--;
    burst.nextMs = nowMs + EPISODE_SHAPE.flowGapMs;
    if (burst.left <= 0) state.flowBurst = undefined;
    if (!option) return;
    this.evolve(state);
    const nbbo = this.nbbo(option);
    this.emit({ topic: 'options.quotes', value: this.optionQuote(option, nbbo) });
    if (burst.left % 2 === 0) {
      const exchanges: string[] = [];
      while (exchanges.length < 4) {
        const exchange = this.scenarioRandom.pick(OPTION_EXCHANGE_CODES);
        if (!exchanges.includes(exchange)) exchanges.push(exchange);
      }
      const size = Math.ceil(EPISODE_SHAPE.flowPremium / (nbbo.askPrice * 100 * exchanges.length));
      for (const exchange of exchanges) {
        this.clock.advanceSeconds(0.0001);
        this.emit({ topic: 'options.trades', value: this.optionTrade(option, nbbo.askPrice, size, exchange, [OPTION_TRADE_CONDITIONS.intermarketSweep]) });
      }
      return;
    }
    const mid = Math.max(0.01, Math.round((nbbo.bidPrice + nbbo.askPrice) * 50) / 100);
    const size = Math.max(500, Math.ceil(EPISODE_SHAPE.flowPremium / (mid * 100)));
    this.emit({ topic: 'options.trades', value: this.optionTrade(option, mid, size, this.scenarioRandom.pick(OPTION_EXCHANGE_CODES), [OPTION_TRADE_CONDITIONS.autoExecuted]) });
  }

  /** Moves the underlying's price and regime forward to the current event time. */
  private evolve(state: UnderlyingState): void {
    const nowMs = this.clock.nowMs;
    const dt = (nowMs - state.evolvedAtMs) / MS_PER_YEAR;
    if (dt <= 0) return;
    const fromMs = state.evolvedAtMs;
    state.evolvedAtMs = nowMs;
    const regime = this.regimes[state.regime];
    const leaveRate = TRADING_DAYS_PER_YEAR / regime.meanDurationDays;
    if (this.regimes.length > 1 && this.random.chance(1 - Math.exp(-leaveRate * dt))) {
      const next = this.random.integer(0, this.regimes.length - 2);
      state.regime = next >= state.regime ? next + 1 : next;
    }
    const { profile } = state;
    const vol = profile.volatility * regime.volMultiplier;
    const jumpRate = profile.jumpsPerYear * regime.jumpMultiplier;
    // Risk-neutral drift with the jump compensator, so the discounted price stays a martingale.
    const compensator = jumpRate * (Math.exp(profile.jumpMean + (profile.jumpStdDev * profile.jumpStdDev) / 2) - 1);
    let logReturn =
      (this.rate - profile.dividendYield - compensator - (vol * vol) / 2) * dt + vol * Math.sqrt(dt) * this.random.normal();
    const jumps = this.random.poisson(jumpRate * dt);
    for (let i = 0; i < jumps; i++) logReturn += profile.jumpMean + profile.jumpStdDev * this.random.normal();
    const surge = state.surge;
    if (surge) {
      // A scripted surge: its move spread evenly over its span, on top of the diffusion.
      const overlapMs = Math.min(nowMs, surge.untilMs) - Math.max(fromMs, surge.startMs);
      if (overlapMs > 0) logReturn += (surge.logMove * overlapMs) / (surge.untilMs - surge.startMs);
      if (nowMs >= surge.untilMs) state.surge = undefined;
    }
    state.price = Math.max(0.05, state.price * Math.exp(logReturn));
  }

  private currentVol(state: UnderlyingState): number {
    const vol = state.profile.volatility * this.regimes[state.regime].volMultiplier;
    if (this.clock.nowMs >= state.volJumpUntilMs) return vol;
    return vol + Math.max(EPISODE_SHAPE.volJumpMin, EPISODE_SHAPE.volJumpShare * vol);
  }

  private underlyingQuote(state: UnderlyingState): UnderlyingQuote.Value {
    let spreadCents = state.profile.product.strikes.stepAt(state.price) <= 1 ? 1 : this.random.integer(1, 3);
    let bidSize = 100 * this.random.integer(1, 30);
    let askSize = 100 * this.random.integer(1, 30);
    const drain = state.drain;
    if (drain) {
      // A scripted liquidity drain: each quote shows less size than the one before and a cent more spread.
      drain.depth = Math.max(2, Math.min(drain.depth - 2, Math.floor(drain.depth * EPISODE_SHAPE.drainKeep)));
      drain.spreadCents += 1;
      spreadCents = drain.spreadCents;
      bidSize = Math.floor(drain.depth / 2);
      askSize = drain.depth - bidSize;
      if (--drain.left <= 0) state.drain = undefined;
    }
    state.lastDepth = bidSize + askSize;
    state.lastSpreadCents = spreadCents;
    const bidCents = Math.round(state.price * 100) - Math.floor(spreadCents / 2);
    return {
      symbol: state.profile.symbol,
      bidPrice: bidCents / 100,
      bidSize,
      askPrice: (bidCents + spreadCents) / 100,
      askSize,
      bidExchange: this.random.pick(STOCK_EXCHANGE_CODES),
      askExchange: this.random.pick(STOCK_EXCHANGE_CODES),
      ts: this.clock.nowNanos(),
      tape: state.profile.tape,
    };
  }

  private underlyingTrade(state: UnderlyingState): UnderlyingTrade.Value {
    const oddLot = this.random.chance(0.3);
    const size = oddLot ? this.random.integer(1, 99) : 100 * (1 + Math.floor(this.random.exponential(0.5)));
    return {
      symbol: state.profile.symbol,
      price: Math.max(0.01, Math.round(state.price * 100 + this.random.integer(-1, 1)) / 100),
      size,
      exchange: this.random.pick(STOCK_EXCHANGE_CODES),
      tradeId: String(++state.tradeSequence),
      conditions: oddLot ? ['@', 'I'] : ['@'],
      ts: this.clock.nowNanos(),
      tape: state.profile.tape,
    };
  }

  /** Theoretical value and moneyness (in standard deviations) of a contract now. */
  private theoretical(option: OptionState): { value: number; sigmas: number } {
    const state = option.underlying;
    const timeYears = Math.max((option.expiryMs - this.clock.nowMs) / MS_PER_YEAR, 1e-7);
    const forward = state.price * Math.exp((this.rate - state.profile.dividendYield) * timeYears);
    const vol = state.surface.impliedVol(this.currentVol(state), forward, option.strike, timeYears);
    const value = bsmPrice({
      right: option.right,
      spot: state.price,
      strike: option.strike,
      timeYears,
      rate: this.rate,
      dividendYield: state.profile.dividendYield,
      vol,
    });
    return { value, sigmas: Math.log(option.strike / forward) / (vol * Math.sqrt(timeYears)) };
  }

  /** A market maker's quote around the theoretical value. */
  private nbbo(option: OptionState): Nbbo {
    const { value, sigmas } = this.theoretical(option);
    const valueCents = value * 100;
    const tickCents = valueCents < 300 ? 1 : 5;
    const liquid = option.underlying.profile.product.strikes.stepAt(option.strike) <= 1;
    const relative = (liquid ? 0.01 : 0.03) * (1 + 0.5 * Math.min(Math.abs(sigmas), 4));
    const widthTicks = Math.max(1, Math.ceil((valueCents * relative) / tickCents));
    let bidCents = Math.floor((valueCents - (widthTicks * tickCents) / 2) / tickCents) * tickCents;
    let askCents = bidCents + widthTicks * tickCents;
    if (bidCents < 1) bidCents = 0;
    if (askCents < 1) askCents = 1;
    const depth = (liquid ? 150 : 40) * Math.exp(-0.3 * Math.abs(sigmas));
    return {
      bidPrice: bidCents / 100,
      bidSize: bidCents === 0 ? 0 : 1 + Math.floor(this.random.exponential(1 / depth)),
      askPrice: askCents / 100,
      askSize: 1 + Math.floor(this.random.exponential(1 / depth)),
      tickCents,
    };
  }

  private optionQuote(option: OptionState, nbbo: Nbbo): OptionQuote.Value {
    return {
      symbol: option.symbol,
      underlying: option.underlying.profile.symbol,
      expiration: option.expiration,
      strike: option.strike,
      right: option.right,
      bidPrice: nbbo.bidPrice,
      bidSize: nbbo.bidSize,
      askPrice: nbbo.askPrice,
      askSize: nbbo.askSize,
      bidExchange: this.optionExchange(),
      askExchange: this.optionExchange(),
      ts: this.clock.nowNanos(),
    };
  }

  private optionExchange(): string {
    return OPTION_EXCHANGE_CODES[this.random.weightedIndex(OPTION_EXCHANGE_WEIGHTS, OPTION_EXCHANGE_WEIGHT_TOTAL)];
  }

  /** The quote the trade hits, then the print(s): a regular fill, a block, or a sweep across exchanges. */
  private optionTrades(option: OptionState): void {
    const nbbo = this.nbbo(option);
    this.emit({ topic: 'options.quotes', value: this.optionQuote(option, nbbo) });
    const draw = this.random.uniform();
    const buy = this.random.chance(0.55);
    if (draw < this.sweepProbability) {
      const legs = this.random.integer(3, 6);
      const exchanges = new Set<string>();
      while (exchanges.size < legs) exchanges.add(this.optionExchange());
      let priceCents = buy ? nbbo.askPrice * 100 : Math.max(nbbo.bidPrice * 100, 1);
      for (const exchange of exchanges) {
        // Legs print microseconds to a millisecond apart, each a little further through the book.
        this.clock.advanceSeconds(0.00005 + this.random.uniform() * 0.001);
        const size = this.random.integer(10, 300);
        this.emit({ topic: 'options.trades', value: this.optionTrade(option, priceCents / 100, size, exchange, [OPTION_TRADE_CONDITIONS.intermarketSweep]) });
        if (this.random.chance(0.3)) priceCents = buy ? priceCents + nbbo.tickCents : Math.max(1, priceCents - nbbo.tickCents);
      }
      return;
    }
    let priceCents: number;
    let size: number;
    if (draw < this.sweepProbability + this.blockProbability) {
      size = this.random.integer(500, 5_000);
      priceCents = Math.round((nbbo.bidPrice + nbbo.askPrice) * 50);
    } else {
      size = 1 + Math.floor(this.random.exponential(0.2));
      const at = this.random.uniform();
      priceCents = at < 0.2 ? Math.round((nbbo.bidPrice + nbbo.askPrice) * 50) : buy ? nbbo.askPrice * 100 : nbbo.bidPrice * 100;
    }
    priceCents = Math.max(1, Math.round(priceCents));
    this.emit({ topic: 'options.trades', value: this.optionTrade(option, priceCents / 100, size, this.optionExchange(), [OPTION_TRADE_CONDITIONS.autoExecuted]) });
  }

  private optionTrade(option: OptionState, price: number, size: number, exchange: string, conditions: string[]): OptionTrade.Value {
    if (option.session !== this.clock.session) {
      option.session = this.clock.session;
      option.dayVolume = 0;
    }
    option.dayVolume += size;
    return {
      symbol: option.symbol,
      underlying: option.underlying.profile.symbol,
      expiration: option.expiration,
      strike: option.strike,
      right: option.right,
      price,
      size,
      exchange,
      conditions,
      ts: this.clock.nowNanos(),
    };
  }

  /**
   * Open interest as of the previous close: a function of the seed and the contract only, so a contract
   * unsubscribed and subscribed again reports the same figure. Largest near the money and near expiry.
   */
  private openInterestOf(symbol: string, profile: UnderlyingProfile, strike: number, expiration: string): number {
    const u = hashText(`${this.seed}:${symbol}`) / 4294967296;
    const moneyness = Math.abs(Math.log(strike / profile.initialPrice));
    const days = Math.max(1, dayNumber(expiration) - Math.floor(this.clock.nowMs / 86_400_000));
    const base = profile.activity * 4_000 * Math.exp(-moneyness * 12) * (1 + 30 / (days + 30));
    return Math.floor(base * (0.2 + 1.6 * u));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
