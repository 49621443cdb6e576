import { type ConfigIssue, type ConfigOf, env, type EnvVar, mergeSpecs, serviceEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';
import { authEnv } from '@tributary/service';
import { alpacaConfigIssues, alpacaEnv } from './sources/alpaca/alpaca-config';

/** A decimal number within bounds, e.g. a rate or a fraction. */
function decimal(options: { description: string; default: number; min: number; max: number }): EnvVar<number> {
  return {
    description: options.description,
    secret: false,
    required: false,
    defaultValue: String(options.default),
    parse: (raw) => {
      const text = raw ?? String(options.default);
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error('must be a decimal number');
      const value = Number(text);
      if (value < options.min || value > options.max) {
        throw new Error(`must be between ${options.min} and ${options.max}`);
      }
      return value;
    },
  };
}

/** An instant written as ISO-8601 with a zone, parsed to epoch ms. */
function instantMs(options: { description: string; default: string }): EnvVar<number> {
  return {
    description: options.description,
    secret: false,
    required: false,
    defaultValue: options.default,
    parse: (raw) => {
      const text = raw ?? options.default;
      const ms = /(Z|[+-]\d\d:\d\d)$/.test(text) ? Date.parse(text) : Number.NaN;
      if (!Number.isFinite(ms)) throw new Error('must be an ISO-8601 time with a zone, e.g. 2025-03-03T14:30:00Z');
      return ms;
    },
  };
}

const MARKET_SOURCES = ['simulator', 'alpaca'] as const;

/** Environment variables of options-collector, validated at start-up (see README.md for each). */
export const optionsCollectorEnv = mergeSpecs(
  serviceEnv(3101),
  kafkaEnv,
  authEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-options-collector',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
    MARKET_SOURCE: env.oneOf(MARKET_SOURCES, {
      default: 'simulator',
      description:
        'Where market data comes from: simulator (built in, no account) or alpaca (needs ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY)',
    }),
    UNDERLYINGS: env.list({
      default: 'SPY,QQQ,AAPL,TSLA,NVDA',
      minItems: 1,
      description: 'Underlying tickers whose quotes, trades and option chains are collected, comma-separated',
    }),
    SIMULATOR_SEED: env.string({
      default: 'tributary',
      description: 'Seed of the simulator: the same seed and settings give the same market, record for record',
    }),
    SIMULATOR_EVENTS_PER_SECOND: env.int({
      default: 2000,
      min: 1,
      max: 1_000_000,
      description: 'Mean arrivals per second of event time the simulator generates, across all underlyings (an option trade arrives with its quote, a sweep with its legs: some 12-22% more market events come out)',
    }),
    SIMULATOR_START: instantMs({
      default: '2025-03-03T14:30:00Z',
      description:
        'Event time of the first simulated event, ISO-8601 UTC (outside market hours the clock moves to the next open)',
    }),
    SIMULATOR_FAULT_FRACTION: decimal({
      default: 0,
      min: 0,
      max: 1,
      description:
        'Fraction of simulated records corrupted on purpose (negative prices, crossed quotes, future times, missing fields, unknown symbols); they go to the DLQ topics',
    }),
    SIMULATOR_RESUME: env.bool({
      default: true,
      description:
        'At start, move the simulated clock past the latest event time on market.quotes, so a restart goes on in event time (consumers with a persisted watermark would find earlier events late)',
    }),
    SIMULATOR_SWEEP_PROBABILITY: decimal({
      default: 0.003,
      min: 0,
      max: 0.5,
      description: 'Share of simulated option trades that are multi-exchange sweeps (unusual flow in the background, between scripted episodes)',
    }),
    SIMULATOR_BLOCK_PROBABILITY: decimal({
      default: 0.0005,
      min: 0,
      max: 0.5,
      description: 'Share of simulated option trades that are blocks of 500 to 5000 contracts',
    }),
    SIMULATOR_SCENARIOS: env.bool({
      default: true,
      description:
        'Script market episodes for the CEP patterns into the simulated market: a momentum surge with a volume burst, an implied-volatility jump, a liquidity drain, a burst of sweeps and blocks, in turn',
    }),
    SIMULATOR_SCENARIO_INTERVAL_MS: env.durationMs({
      default: '90s',
      min: 5_000,
      description: 'Event time between the starts of two scripted episodes (with SIMULATOR_SCENARIOS)',
    }),
    ...alpacaEnv,
    CHAIN_STRIKES_PER_EXPIRY: env.int({
      default: 10,
      min: 1,
      max: 200,
      description: 'Strikes selected around the underlying price in each expiration (a call and a put each)',
    }),
    CHAIN_MAX_DAYS_TO_EXPIRY: env.int({
      default: 30,
      min: 0,
      max: 1100,
      description: 'Expirations further out than this many calendar days are not selected (0: same-day only)',
    }),
    CHAIN_MAX_CONTRACTS: env.int({
      default: 1000,
      min: 1,
      max: 10_000,
      description: 'Most option contracts subscribed at once across all underlyings (the market data plan limit)',
    }),
    CHAIN_SNAPSHOT_INTERVAL_MS: env.durationMs({
      default: '1s',
      min: 100,
      description: 'Event time between two chain snapshots of each underlying on options.chains',
    }),
    RISK_FREE_RATE: decimal({
      default: 0.045,
      min: -0.1,
      max: 1,
      description: 'Continuously compounded annual risk-free rate for implied volatility and Greeks (0.045 = 4.5%)',
    }),
    FLOW_BLOCK_PREMIUM: env.int({
      default: 250_000,
      min: 1,
      description: 'A single print of at least this premium (USD, price x size x 100) is a block on options.flow',
    }),
    FLOW_BLOCK_SIZE: env.int({
      default: 500,
      min: 1,
      description: 'A single print of at least this many contracts is a block on options.flow',
    }),
    FLOW_VOLUME_TO_OPEN_INTEREST: decimal({
      default: 1,
      min: 0,
      max: 1000,
      description: 'Session volume at this multiple of open interest is unusual volume on options.flow',
    }),
    FLOW_MIN_UNUSUAL_VOLUME: env.int({
      default: 500,
      min: 1,
      description: 'Unusual volume is reported only once the session volume reaches this many contracts',
    }),
    FLOW_SWEEP_WINDOW_MS: env.durationMs({
      default: '50ms',
      min: 1,
      description: 'Prints of one underlying, expiration, right and side within this window form one sweep',
    }),
    FLOW_MIN_SWEEP_EXCHANGES: env.int({
      default: 3,
      min: 2,
      max: 32,
      description: 'A sweep fills on at least this many exchanges',
    }),
    FLOW_MIN_SWEEP_PREMIUM: env.int({
      default: 25_000,
      min: 0,
      description: 'A sweep is reported when its total premium (USD) is at least this',
    }),
  },
);

export type OptionsCollectorConfig = ConfigOf<typeof optionsCollectorEnv>;

/** Checks across variables, run at start-up after each variable parsed: the Alpaca source needs its keys. */
export function optionsCollectorConfigIssues(config: OptionsCollectorConfig): ConfigIssue[] {
  return config.MARKET_SOURCE === 'alpaca' ? alpacaConfigIssues(config) : [];
}
