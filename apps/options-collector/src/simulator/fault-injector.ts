import type { FaultKind, MarketEvent } from './market-source';
import type { SeededRandom } from './seeded-random';

export const ALL_FAULT_KINDS: readonly FaultKind[] = [
  'negative-price',
  'crossed-quote',
  'future-timestamp',
  'missing-field',
  'unknown-symbol',
];

/** Far enough ahead that no clock skew allowance accepts it, whatever the simulated start date. */
const FUTURE_SHIFT_MS = 100 * 365 * 86_400_000;

/**
 * Breaks records the way real feeds do, so validation and the DLQ path get exercised. Every corrupted
 * record violates its contract; which fault a record gets is drawn from its own random stream, so
 * turning faults on does not change the good records.
 */
export class FaultInjector {
  constructor(
    private readonly fraction: number,
    private readonly kinds: readonly FaultKind[],
    private readonly random: SeededRandom,
  ) {
    if (!(fraction >= 0 && fraction <= 1)) throw new RangeError('the fault fraction must be between 0 and 1');
    if (kinds.length === 0) throw new RangeError('at least one fault kind is needed');
  }

  /** The event itself, or a corrupted copy of it. */
  maybeCorrupt(event: MarketEvent): MarketEvent {
    if (this.fraction === 0 || !this.random.chance(this.fraction)) return event;
    let kind = this.random.pick(this.kinds);
    const isQuote = event.topic === 'market.quotes' || event.topic === 'options.quotes';
    // A trade cannot be crossed: break its price instead.
    if (kind === 'crossed-quote' && !isQuote) kind = 'negative-price';
    return corrupt(event, kind);
  }
}

/** A copy of the event broken by `kind` (crossed-quote applies to quotes only). */
export function corrupt(event: MarketEvent, kind: FaultKind): MarketEvent {
  const value: Record<string, unknown> = { ...event.value };
  const isQuote = event.topic === 'market.quotes' || event.topic === 'options.quotes';
  switch (kind) {
    case 'negative-price':
      if (isQuote) value['bidPrice'] = -Math.max(0.01, value['bidPrice'] as number);
      else value['price'] = -(value['price'] as number);
      break;
    case 'crossed-quote': {
      const ask = Math.max(0.05, value['askPrice'] as number);
      value['askPrice'] = ask;
      value['bidPrice'] = Math.round((ask + 0.05) * 100) / 100;
      value['bidSize'] = Math.max(1, value['bidSize'] as number);
      value['askSize'] = Math.max(1, value['askSize'] as number);
      break;
    }
    case 'future-timestamp': {
      const ts = value['ts'] as string;
      value['ts'] = `${Number(ts.slice(0, -6)) + FUTURE_SHIFT_MS}${ts.slice(-6)}`;
      break;
    }
    case 'missing-field':
      delete value['ts'];
      delete value[isQuote ? 'askExchange' : 'exchange'];
      break;
    case 'unknown-symbol': {
      const symbol = value['symbol'] as string;
      if (event.topic === 'options.quotes' || event.topic === 'options.trades') {
        // A well-formed OCC symbol of a contract that does not match the record's terms.
        const strike = Number(symbol.slice(-8)) + 1;
        value['symbol'] = `${symbol.slice(0, -8)}${String(strike).padStart(8, '0')}`;
      } else {
        value['symbol'] = `${symbol}?`;
      }
      break;
    }
  }
  return { topic: event.topic, value, fault: kind } as unknown as MarketEvent;
}
