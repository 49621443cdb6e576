import type { OptionQuote, OptionTrade, UnderlyingQuote, UnderlyingTrade } from '@tributary/contracts';
import type { SelectedContract } from '../chain/chain-selector';
import { easternDay } from '../chain/market-calendar';

/** The market now for one selected contract: NBBO, last print and session volume. */
export interface ContractMarket {
  readonly contract: SelectedContract;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  /** Event time of the last quote, epoch ns; undefined until one arrives. */
  quoteTs: string | undefined;
  last: number | undefined;
  volume: number;
  /** New York trade date (day number) the volume counts. */
  volumeDay: number;
}

/** The underlying's latest price and where it came from. */
export interface UnderlyingMarket {
  /** Mid of the last two-sided quote, else the last trade. */
  price: number;
  bid: number;
  ask: number;
  last: number | undefined;
  ts: string;
}

function dayOfNanos(ts: string): number {
  return easternDay(Number(ts.slice(0, -6)));
}

/**
 * The latest market of each underlying and of each selected contract, as the snapshots and
 * `GET /chains/:underlying` show it. Only selected contracts are held (tracked on subscribe, forgotten
 * on unsubscribe), so its size follows the chain selection, not the stream.
 */
export class ChainBook {
  private readonly underlyings = new Map<string, UnderlyingMarket>();
  private readonly contracts = new Map<string, ContractMarket>();

  /** Contracts held. */
  get size(): number {
    return this.contracts.size;
  }

  /** Underlyings held. */
  get underlyingCount(): number {
    return this.underlyings.size;
  }

  track(contract: SelectedContract): void {
    if (this.contracts.has(contract.symbol)) return;
    this.contracts.set(contract.symbol, {
      contract,
      bid: 0,
      ask: 0,
      bidSize: 0,
      askSize: 0,
      quoteTs: undefined,
      last: undefined,
      volume: 0,
      volumeDay: -1,
    });
  }

  forget(symbol: string): void {
    this.contracts.delete(symbol);
  }

  contract(symbol: string): ContractMarket | undefined {
    return this.contracts.get(symbol);
  }

  underlying(symbol: string): UnderlyingMarket | undefined {
    return this.underlyings.get(symbol);
  }

  /** Returns the underlying's new price. */
  onUnderlyingQuote(quote: UnderlyingQuote.Value): number | undefined {
    const market = this.underlyingMarket(quote.symbol, quote.ts);
    if (quote.bidPrice > 0 && quote.askPrice > 0) {
      market.bid = quote.bidPrice;
      market.ask = quote.askPrice;
      market.price = (quote.bidPrice + quote.askPrice) / 2;
    }
    market.ts = quote.ts;
    return market.price > 0 ? market.price : undefined;
  }

  /** Returns the underlying's new price. */
  onUnderlyingTrade(trade: UnderlyingTrade.Value): number | undefined {
    const market = this.underlyingMarket(trade.symbol, trade.ts);
    market.last = trade.price;
    // A quote's mid is the better price; a trade sets it only until a quote arrives.
    if (!(market.bid > 0 && market.ask > 0)) market.price = trade.price;
    market.ts = trade.ts;
    return market.price > 0 ? market.price : undefined;
  }

  /** Returns false (and keeps nothing) for a contract not tracked. */
  onOptionQuote(quote: OptionQuote.Value): boolean {
    const market = this.contracts.get(quote.symbol);
    if (!market) return false;
    market.bid = quote.bidPrice;
    market.ask = quote.askPrice;
    market.bidSize = quote.bidSize;
    market.askSize = quote.askSize;
    market.quoteTs = quote.ts;
    return true;
  }

  /** Returns false (and keeps nothing) for a contract not tracked. */
  onOptionTrade(trade: OptionTrade.Value): boolean {
    const market = this.contracts.get(trade.symbol);
    if (!market) return false;
    const day = dayOfNanos(trade.ts);
    if (day !== market.volumeDay) {
      market.volumeDay = day;
      market.volume = 0;
    }
    market.volume += trade.size;
    market.last = trade.price;
    return true;
  }

  /** Session volume of a contract as of event time `ts` (0 once a new day started). */
  volumeAt(market: ContractMarket, ts: string): number {
    return market.volumeDay === dayOfNanos(ts) ? market.volume : 0;
  }

  private underlyingMarket(symbol: string, ts: string): UnderlyingMarket {
    let market = this.underlyings.get(symbol);
    if (!market) {
      market = { price: 0, bid: 0, ask: 0, last: undefined, ts };
      this.underlyings.set(symbol, market);
    }
    return market;
  }
}
