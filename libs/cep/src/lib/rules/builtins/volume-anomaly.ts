/**
 * VOLUME_ANOMALY: the volume of an interval is far above its usual level: a z-score against the
 * intervals of a rolling window, and a ratio to their mean. From trades (volume summed per bucket,
 * detected while the bucket fills) or from candles (one candle per interval).
 */
import type { StateUpdateScope } from '../../engine';
import { AfterMatchSkip, Pattern } from '../../pattern';
import { edgeTrigger, eventTimeParams, num, NS_PER_MS, roundAll, seconds, symbolKey, type BuiltinPattern } from '../builtin';
import type { CepEvent } from '../rule';

type Source = 'trades' | 'candles.1s' | 'candles.10s' | 'candles.1m';

interface Params {
  source: Source;
  bucketMs: number;
  windowMs: number;
  minSamples: number;
  minZscore: number;
  minVolumeRatio: number;
  cooldownMs: number;
}

const CANDLE_MS: Record<Exclude<Source, 'trades'>, number> = { 'candles.1s': 1_000, 'candles.10s': 10_000, 'candles.1m': 60_000 };

export const VOLUME_ANOMALY: BuiltinPattern = {
  name: 'VOLUME_ANOMALY',
  description:
    "An interval's volume lies at least minZscore standard deviations above the mean of the intervals in the rolling window and is at least minVolumeRatio times that mean. With trades, volume is summed per bucketMs bucket (buckets without trades count as zero) and the running bucket is tested as it fills; with candles, each candle is one interval. Fires once per episode, then not again within cooldownMs.",
  severity: 'info',
  keyDescription: 'symbol',
  params: {
    source: { type: 'enum', values: ['trades', 'candles.1s', 'candles.10s', 'candles.1m'], default: 'trades', description: 'market.trades summed per bucket, or a candle topic (first revision of each window)' },
    bucketMs: { type: 'integer', default: 10_000, min: 1_000, max: 3_600_000, unit: 'ms', description: 'Interval trades are summed over (trades only)' },
    windowMs: { type: 'integer', default: 1_800_000, min: 60_000, max: 86_400_000, unit: 'ms', description: 'Rolling window of past intervals the volume is compared with' },
    minSamples: { type: 'integer', default: 30, min: 5, max: 100_000, description: 'Past intervals the window must hold before anything counts' },
    minZscore: { type: 'number', default: 4, min: 1, max: 100, description: 'Smallest z-score of the volume against the window' },
    minVolumeRatio: { type: 'number', default: 3, min: 1, max: 1_000, description: 'Smallest ratio of the volume to the window mean' },
    cooldownMs: { type: 'integer', default: 60_000, min: 0, max: 86_400_000, unit: 'ms', description: 'No second alert for the symbol within this span after one' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 3_600_000 }),
  },
  check(params) {
    const p = params as unknown as Params;
    const interval = p.source === 'trades' ? p.bucketMs : CANDLE_MS[p.source];
    return p.windowMs < p.minSamples * interval ? `windowMs: ${p.windowMs} cannot hold minSamples (${p.minSamples}) intervals of ${interval} ms` : undefined;
  },
  inputs: (params) => [(params as unknown as Params).source === 'trades' ? 'market.trades' : (params as unknown as Params).source],
  plan(params) {
    const p = params as unknown as Params;
    const fromTrades = p.source === 'trades';
    const topic = fromTrades ? 'market.trades' : p.source;
    const bucketNs = p.bucketMs * NS_PER_MS;
    const maxGap = Math.ceil(p.windowMs / p.bucketMs);
    const measure = (volume: number, scope: StateUpdateScope) => {
      const window = scope.aggregate('volume');
      const zscore = window.zscore(volume);
      return {
        ready: window.count >= p.minSamples,
        volume,
        meanVolume: window.mean,
        zscore,
        volumeRatio: volume / window.mean,
        samples: window.count,
      };
    };
    const trigger = edgeTrigger(
      'anomaly',
      (event, scope) => {
        if (event.topic !== topic) return undefined;
        if (!fromTrades) return measure(num(event, 'volume'), scope);
        return measure((scope.state('bucket').get('volume') as number | undefined) ?? 0, scope);
      },
      (m) => m['ready'] === true && Number(m['zscore']) >= p.minZscore && Number(m['volumeRatio']) >= p.minVolumeRatio,
      p.cooldownMs * NS_PER_MS,
    );
    return {
      keyBy: symbolKey,
      filter: fromTrades ? undefined : (event) => event.value['revision'] === 0,
      aggregates: [
        // Candles enter the window after their own test; trade buckets when they close (see 'bucket').
        { name: 'volume', windowNs: p.windowMs * NS_PER_MS, value: (event) => (fromTrades || event.topic !== topic ? undefined : num(event, 'volume')) },
      ],
      state: [
        ...(fromTrades
          ? [
              {
                name: 'bucket',
                update(event: CepEvent, table: Map<string, unknown>, scope: StateUpdateScope) {
                  if (event.topic !== topic) return;
                  const bucket = Math.floor(scope.ts / bucketNs);
                  const current = table.get('bucket') as number | undefined;
                  if (current === undefined || bucket > current) {
                    if (current !== undefined) {
                      // Close the bucket; buckets nobody traded in count as zero volume.
                      scope.sample('volume', table.get('volume') as number);
                      for (let gap = Math.min(bucket - current - 1, maxGap); gap > 0; gap--) scope.sample('volume', 0);
                    }
                    table.set('bucket', bucket);
                    table.set('volume', 0);
                  }
                  table.set('volume', (table.get('volume') as number) + num(event, 'size'));
                },
              },
            ]
          : []),
        trigger.state,
      ],
      pattern: Pattern.begin<CepEvent>('spike', AfterMatchSkip.skipPastLastEvent()).where(trigger.fired),
      capture: (_match, scope) => trigger.measurement(scope),
    };
  },
  describe(match, params) {
    const p = params as unknown as Params;
    const m = match.captured ?? {};
    const interval = p.source === 'trades' ? `${seconds(p.bucketMs * NS_PER_MS)} of trades` : `${p.source.slice('candles.'.length)} candle`;
    const attributes: Record<string, number | string | boolean | null> = { ...roundAll(m), intervalSeconds: (p.source === 'trades' ? p.bucketMs : CANDLE_MS[p.source]) / 1000 };
    delete attributes['ready'];
    return {
      message: `${match.key} volume ${m['volume']} in one ${interval} is ${attributes['volumeRatio']}x the usual ${attributes['meanVolume']} (z-score ${attributes['zscore']})`,
      attributes,
    };
  },
};
