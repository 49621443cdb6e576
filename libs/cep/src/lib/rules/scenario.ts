/**
 * Builds market scenarios as contract values on a clock (for scenario tests, dry runs and
 * benchmarks): each method appends one valid record of its topic, from the catalog's samples with
 * the given fields, stamped with the scenario's current event time.
 */
import { formatOccSymbol, SAMPLE_EVENT_TIME, sampleEvent, type ChangeEvent, type OptionChainSnapshot } from '@tributary/contracts';
import type { ReplayInput } from './harness';

export interface ChainContractInput {
  readonly expiration: string;
  readonly strike: number;
  readonly right: 'call' | 'put';
  readonly bid: number;
  readonly ask: number;
  readonly iv?: number;
}

export class ScenarioBuilder {
  readonly events: ReplayInput[] = [];
  private readonly start: bigint;
  private offsetNs = 0n;
  private sequence = 0;

  constructor(start: string = SAMPLE_EVENT_TIME) {
    this.start = BigInt(start);
  }

  /** Event time of the next records: `ms` after the start. */
  at(ms: number): this {
    this.offsetNs = BigInt(Math.round(ms * 1_000_000));
    return this;
  }

  advance(ms: number): this {
    this.offsetNs += BigInt(Math.round(ms * 1_000_000));
    return this;
  }

  /** Current event time, epoch ns. */
  get ts(): string {
    return (this.start + this.offsetNs).toString();
  }

  trade(symbol: string, price: number, size = 100, partition = 0): this {
    return this.push('market.trades', sampleEvent('market.trades', { symbol, price, size, tradeId: `T${++this.sequence}`, ts: this.ts }), partition);
  }

  quote(symbol: string, bidPrice: number, askPrice: number, bidSize = 500, askSize = 500, partition = 0): this {
    return this.push('market.quotes', sampleEvent('market.quotes', { symbol, bidPrice, askPrice, bidSize, askSize, ts: this.ts }), partition);
  }

  /** A 1 s candle ending now. */
  candle(symbol: string, bar: { open: number; high: number; low: number; close: number; volume: number }, partition = 0): this {
    const windowEnd = this.ts;
    const windowStart = (BigInt(windowEnd) - 1_000_000_000n).toString();
    const vwap = (bar.open + bar.close + bar.high + bar.low) / 4;
    return this.push('candles.1s', sampleEvent('candles.1s', { symbol, interval: '1s', windowStart, windowEnd, ts: windowEnd, ...bar, vwap, trades: 10, revision: 0, final: false }), partition);
  }

  chain(underlying: string, underlyingPrice: number, contracts: readonly ChainContractInput[], rates: { riskFreeRate?: number; dividendYield?: number } = {}, partition = 0): this {
    const value: OptionChainSnapshot.Value = {
      underlying,
      underlyingPrice,
      ts: this.ts,
      riskFreeRate: rates.riskFreeRate ?? 0.045,
      dividendYield: rates.dividendYield ?? 0,
      contracts: contracts.map((c) => ({
        symbol: formatOccSymbol({ root: underlying, expiration: c.expiration, right: c.right, strike: c.strike }),
        expiration: c.expiration,
        strike: c.strike,
        right: c.right,
        bid: c.bid,
        ask: c.ask,
        ...(c.iv === undefined ? {} : { iv: c.iv }),
      })),
    };
    return this.push('options.chains', value, partition);
  }

  flow(
    underlying: string,
    flow: { kind?: 'sweep' | 'block' | 'split' | 'unusual_volume'; premium: number; side?: 'buy' | 'sell' | 'mid' | 'unknown'; right?: 'call' | 'put'; strike?: number; expiration?: string },
    partition = 0,
  ): this {
    const right = flow.right ?? 'call';
    const strike = flow.strike ?? 215;
    const expiration = flow.expiration ?? '2025-04-17';
    const price = 5;
    return this.push(
      'options.flow',
      sampleEvent('options.flow', {
        underlying,
        symbol: formatOccSymbol({ root: underlying, expiration, right, strike }),
        expiration,
        strike,
        right,
        kind: flow.kind ?? 'sweep',
        side: flow.side ?? 'buy',
        premium: flow.premium,
        price,
        size: Math.max(1, Math.round(flow.premium / (price * 100))),
        ts: this.ts,
      }),
      partition,
    );
  }

  news(symbols: readonly string[], sentiment: number, extra: { articleId?: string; headline?: string; confidence?: number } = {}, partition = 0): this {
    const value = sampleEvent('news.sentiment', {
      symbols: [...symbols],
      sentiment,
      articleId: extra.articleId ?? `A${++this.sequence}`,
      headline: extra.headline ?? `News about ${symbols[0]}`,
      ts: this.ts,
    });
    if (extra.confidence === undefined) delete (value as { confidence?: number }).confidence;
    else value.confidence = extra.confidence;
    return this.push('news.sentiment', value, partition);
  }

  /** A change of the positions row (account, symbol); quantity 0 with `op: 'd'` deletes it. */
  position(account: string, symbol: string, quantity: number, averagePrice: number, op: 'c' | 'u' | 'd' = 'u', topic = 'cdc.trading.positions', partition = 0): this {
    const row = { account, symbol, quantity: quantity.toFixed(8), average_price: averagePrice.toFixed(8), realized_pnl: '0.00000000' };
    return this.push(topic, this.change(topic, op, row), partition);
  }

  /** A change of a risk_limits row; `op: 'd'` deletes it. */
  limit(account: string, limitType: string, limitValue: number, options: { symbol?: string | null; active?: boolean; id?: number; op?: 'c' | 'u' | 'd'; topic?: string } = {}, partition = 0): this {
    const topic = options.topic ?? 'cdc.trading.risk_limits';
    const row = {
      id: options.id ?? 1,
      account,
      limit_type: limitType,
      symbol: options.symbol ?? null,
      limit_value: limitValue.toFixed(8),
      active: options.active ?? true,
    };
    return this.push(topic, this.change(topic, options.op ?? 'u', row), partition);
  }

  private change(topic: string, op: 'c' | 'u' | 'd', row: Record<string, unknown>): ChangeEvent.Value {
    const sample = sampleEvent(topic) as ChangeEvent.Value;
    const micros = Number((this.start + this.offsetNs) / 1_000n);
    return {
      ...sample,
      op,
      before: op === 'c' ? null : row,
      after: op === 'd' ? null : row,
      source: { ...sample.source, ts_us: micros, ts_ms: Math.floor(micros / 1000) },
      ts_ms: Math.floor(micros / 1000),
      ts_us: micros,
    };
  }

  private push(topic: string, value: unknown, partition: number): this {
    this.events.push({ topic, value: value as Readonly<Record<string, unknown>>, partition });
    return this;
  }
}
