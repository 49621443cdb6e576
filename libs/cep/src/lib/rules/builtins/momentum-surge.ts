/**
 * MOMENTUM_SURGE: the price moved at least X% within a window together with a volume surge, i.e.
 * the window's volume is at least Y times the usual volume of such a window (from a longer baseline).
 */
import type { StateUpdateScope } from '../../engine';
import { AfterMatchSkip, Pattern } from '../../pattern';
import { edgeTrigger, eventTimeParams, lastEvent, num, NS_PER_MS, pct, roundAll, seconds, symbolKey, type BuiltinPattern } from '../builtin';
import type { CepEvent } from '../rule';

interface Params {
  source: 'trades' | 'candles';
  windowMs: number;
  baselineMs: number;
  minPriceChangePct: number;
  minVolumeRatio: number;
  minSamples: number;
  direction: 'both' | 'up' | 'down';
  cooldownMs: number;
}

const TRADES = 'market.trades';
const CANDLES = 'candles.1s';

export const MOMENTUM_SURGE: BuiltinPattern = {
  name: 'MOMENTUM_SURGE',
  description:
    'Price moves at least minPriceChangePct within windowMs (last price against the oldest in the window) while the volume of that window is at least minVolumeRatio times the usual volume of such a window over the baseline before it. Fires once per episode (when the condition starts to hold), then not again within cooldownMs.',
  severity: 'warning',
  keyDescription: 'symbol',
  params: {
    source: { type: 'enum', values: ['trades', 'candles'], default: 'trades', description: 'Read market.trades, or the 1 s candles (candles.1s, first revision of each window)' },
    windowMs: { type: 'integer', default: 60_000, min: 1_000, max: 3_600_000, unit: 'ms', description: 'Window the move and the volume are measured over' },
    baselineMs: { type: 'integer', default: 1_800_000, min: 10_000, max: 86_400_000, unit: 'ms', description: 'Span before the window whose volume is the usual one (at least twice windowMs)' },
    minPriceChangePct: { type: 'number', default: 1, min: 0.01, max: 50, unit: '%', description: 'Smallest price move within the window' },
    minVolumeRatio: { type: 'number', default: 3, min: 1, max: 1_000, description: 'Smallest ratio of the window volume to the usual volume of such a window' },
    minSamples: { type: 'integer', default: 10, min: 1, max: 100_000, description: 'Trades (or candles) the window must hold before the move counts' },
    direction: { type: 'enum', values: ['both', 'up', 'down'], default: 'both', description: 'Moves in which direction count' },
    cooldownMs: { type: 'integer', default: 60_000, min: 0, max: 86_400_000, unit: 'ms', description: 'No second alert for the symbol within this span after one' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 3_600_000 }),
  },
  check(params) {
    const p = params as unknown as Params;
    return p.baselineMs < 2 * p.windowMs ? `baselineMs: ${p.baselineMs} must be at least twice windowMs (${p.windowMs})` : undefined;
  },
  inputs: (params) => [(params as unknown as Params).source === 'trades' ? TRADES : CANDLES],
  plan(params) {
    const p = params as unknown as Params;
    const topic = p.source === 'trades' ? TRADES : CANDLES;
    const windowNs = p.windowMs * NS_PER_MS;
    const ofSource = (event: CepEvent): boolean => event.topic === topic;
    // A trade is one sample; a candle is its window's open (reference) and volume.
    const price = (event: CepEvent): number => num(event, topic === TRADES ? 'price' : 'close');
    const reference = (event: CepEvent): number | undefined => (ofSource(event) ? num(event, topic === TRADES ? 'price' : 'open') : undefined);
    const volume = (event: CepEvent): number | undefined => (ofSource(event) ? num(event, topic === TRADES ? 'size' : 'volume') : undefined);
    const trigger = edgeTrigger(
      'surge',
      (event: CepEvent, scope: StateUpdateScope) => {
        if (!ofSource(event)) return undefined;
        const px = scope.aggregate('px');
        const recent = scope.aggregate('volume');
        const base = scope.aggregate('baseline');
        const last = price(event);
        const change = last / px.first - 1;
        const recentVolume = recent.sum + (volume(event) ?? 0);
        // The baseline is the span before the window: its volume scaled to one window.
        const priorSpan = scope.ts - windowNs - base.firstTs;
        const priorVolume = base.sum - recent.sum;
        const usual = priorSpan >= windowNs && priorVolume > 0 ? (priorVolume / priorSpan) * windowNs : Number.NaN;
        return {
          ready: px.count >= p.minSamples && Number.isFinite(usual),
          price: last,
          referencePrice: px.first,
          priceChangePct: change * 100,
          volume: recentVolume,
          usualVolume: usual,
          volumeRatio: recentVolume / usual,
          samples: px.count + 1,
        };
      },
      (m) => {
        if (m['ready'] !== true) return false;
        const change = m['priceChangePct'] as number;
        const moved = p.direction === 'up' ? change >= p.minPriceChangePct : p.direction === 'down' ? -change >= p.minPriceChangePct : Math.abs(change) >= p.minPriceChangePct;
        return moved && (m['volumeRatio'] as number) >= p.minVolumeRatio;
      },
      p.cooldownMs * NS_PER_MS,
    );
    return {
      keyBy: symbolKey,
      filter: topic === CANDLES ? (event) => event.value['revision'] === 0 : undefined,
      aggregates: [
        { name: 'px', windowNs, value: reference },
        { name: 'volume', windowNs, value: volume },
        { name: 'baseline', windowNs: p.baselineMs * NS_PER_MS, value: volume },
      ],
      state: [trigger.state],
      pattern: Pattern.begin<CepEvent>('surge', AfterMatchSkip.skipPastLastEvent()).where(trigger.fired),
      capture: (_match, scope) => trigger.measurement(scope),
    };
  },
  describe(match, params) {
    const p = params as unknown as Params;
    const m = match.captured ?? {};
    const change = Number(m['priceChangePct']) / 100;
    const attributes: Record<string, number | string | boolean | null> = { ...roundAll(m), windowSeconds: p.windowMs / 1000 };
    delete attributes['ready'];
    return {
      message: `${match.key} ${change >= 0 ? 'up' : 'down'} ${pct(Math.abs(change))} in ${seconds(p.windowMs * NS_PER_MS)} on ${attributes['volumeRatio']}x its usual volume (last ${lastEvent(match).event.value[p.source === 'trades' ? 'price' : 'close']})`,
      attributes,
    };
  },
};
