import { env, type EnvVar } from '@tributary/config';

/** A positive decimal number, e.g. 6 or 4.5. */
function positiveNumber(options: { default: number; description: string }): EnvVar<number> {
  return {
    description: options.description,
    secret: false,
    required: false,
    defaultValue: String(options.default),
    parse: (raw) => {
      const text = raw ?? String(options.default);
      if (!/^\d+(\.\d+)?$/.test(text) || !(Number(text) > 0)) throw new Error('must be a positive number such as 6 or 4.5');
      return Number(text);
    },
  };
}

/** Comma-separated durations, e.g. 500ms,5s,30s. */
function durationList(options: { default: string; description: string }): EnvVar<number[]> {
  return {
    description: options.description,
    secret: false,
    required: false,
    defaultValue: options.default,
    parse: (raw) => {
      const items = (raw ?? options.default).split(',').map((item) => item.trim()).filter((item) => item !== '');
      if (items.length === 0 || items.length > 16) throw new Error('must list 1 to 16 durations such as 500ms,5s,30s');
      return items.map((item) => {
        const match = /^([1-9]\d*)(ms|s|m|h)$/.exec(item);
        if (!match) throw new Error(`"${item}" is not a duration such as 500ms, 5s, 2m or 1h`);
        return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
      });
    },
  };
}

/** Environment variables of the data quality processor (see the README). */
export const qualityEnv = {
  GATEWAY_QUALITY_ENABLED: env.bool({
    default: true,
    description: 'Run the data quality checks of market.trades onto market.trades.validated, market.trades.dlq and quality.events (consumer group <KAFKA_GROUP_ID>-quality)',
  }),
  GATEWAY_QUALITY_START: env.oneOf(['latest', 'earliest'] as const, {
    default: 'latest',
    description: 'Where a new quality consumer group starts: latest (trades from now on) or earliest (the retained hour too); afterwards it resumes from its commits',
  }),
  GATEWAY_QUALITY_DEDUP_WINDOW: env.durationMs({
    default: '5m',
    min: 1,
    description: 'Event-time window in which a second record with the same fingerprint (idempotency.key header, else a hash of the value) is dropped as a duplicate',
  }),
  GATEWAY_QUALITY_DEDUP_MAX_ENTRIES: env.int({
    default: 500_000,
    min: 1,
    description: 'Most fingerprints remembered at once; beyond it the oldest are forgotten first (bounds memory)',
  }),
  GATEWAY_QUALITY_OUTLIER_Z: positiveNumber({
    default: 6,
    description: 'A trade price more than this many standard deviations from the rolling mean of its symbol is an outlier (fat finger), sent to market.trades.dlq',
  }),
  GATEWAY_QUALITY_OUTLIER_MIN_HISTORY: env.int({
    default: 20,
    min: 2,
    description: 'Trades of a symbol needed before its prices are judged',
  }),
  GATEWAY_QUALITY_OUTLIER_WINDOW: env.int({
    default: 100,
    min: 2,
    description: 'Trades in the rolling mean and standard deviation of a symbol (at least GATEWAY_QUALITY_OUTLIER_MIN_HISTORY)',
  }),
  GATEWAY_QUALITY_OUTLIER_MIN_MOVE_BPS: env.int({
    default: 50,
    min: 0,
    description: 'An outlier must also be this far from the rolling mean, in basis points, so a quiet symbol one tick away is not flagged',
  }),
  GATEWAY_QUALITY_OUTLIER_LEVEL_SHIFT_AFTER: env.int({
    default: 5,
    min: 1,
    description: 'This many outliers in a row on the same side are taken as a new price level: the last passes and the history restarts there',
  }),
  GATEWAY_QUALITY_GAP_GRANULARITIES: durationList({
    default: '500ms,5s,30s',
    description: "Gap granularities: event time between two trades of a symbol longer than any of them is reported on quality.events",
  }),
  GATEWAY_QUALITY_MAX_SYMBOLS: env.int({
    default: 20_000,
    min: 1,
    description: 'Symbols whose price history and last trade time are kept at once (least recently traded forgotten first)',
  }),
};
