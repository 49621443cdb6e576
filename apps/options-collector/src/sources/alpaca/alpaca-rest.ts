import type { AlpacaHttpClient } from './alpaca-http';

/** One contract as `GET /v2/options/contracts` lists it; numbers come as strings. */
export interface AlpacaOptionContract {
  readonly symbol: string;
  readonly status?: string;
  readonly tradable?: boolean;
  readonly expiration_date: string;
  readonly root_symbol?: string;
  readonly underlying_symbol: string;
  readonly type: 'call' | 'put';
  readonly style?: string;
  readonly strike_price: string;
  readonly size?: string;
  readonly open_interest?: string | null;
  readonly open_interest_date?: string | null;
  readonly close_price?: string | null;
  readonly close_price_date?: string | null;
}

interface ContractsPage {
  readonly option_contracts?: AlpacaOptionContract[] | null;
  readonly next_page_token?: string | null;
}

export interface AlpacaOptionQuote {
  readonly ap?: number;
  readonly as?: number;
  readonly ax?: string;
  readonly bp?: number;
  readonly bs?: number;
  readonly bx?: string;
  readonly c?: string;
  readonly t?: string;
}

export interface AlpacaOptionTradeSnapshot {
  readonly p?: number;
  readonly s?: number;
  readonly x?: string;
  readonly c?: string;
  readonly t?: string;
}

export interface AlpacaGreeks {
  readonly delta?: number;
  readonly gamma?: number;
  readonly rho?: number;
  readonly theta?: number;
  readonly vega?: number;
}

/** One contract of `GET /v1beta1/options/snapshots/{underlying}`; Greeks and IV only when the vendor has them. */
export interface AlpacaOptionSnapshot {
  readonly latestQuote?: AlpacaOptionQuote | null;
  readonly latestTrade?: AlpacaOptionTradeSnapshot | null;
  readonly greeks?: AlpacaGreeks | null;
  readonly impliedVolatility?: number | null;
}

interface OptionSnapshotsPage {
  readonly snapshots?: Record<string, AlpacaOptionSnapshot> | null;
  readonly next_page_token?: string | null;
}

export interface AlpacaStockQuote {
  readonly ap?: number;
  readonly as?: number;
  readonly ax?: string;
  readonly bp?: number;
  readonly bs?: number;
  readonly bx?: string;
  readonly c?: string[];
  readonly z?: string;
  readonly t?: string;
}

/** One ticker of `GET /v2/stocks/snapshots`. */
export interface AlpacaStockSnapshot {
  readonly latestQuote?: AlpacaStockQuote | null;
}

export interface ContractQuery {
  readonly underlyings: readonly string[];
  /** YYYY-MM-DD bounds of the expirations, inclusive. */
  readonly expirationFrom: string;
  readonly expirationTo: string;
  /** Contracts per page (Alpaca allows up to 10000). */
  readonly pageSize?: number;
}

/** Pages a request stops after, so a server that always answers with a token cannot loop us forever. */
const MAX_PAGES = 10_000;

/** The three REST calls the Alpaca source needs, each read to its last page. */
export class AlpacaRestApi {
  constructor(
    private readonly http: AlpacaHttpClient,
    private readonly urls: { readonly trading: string; readonly data: string },
    private readonly optionsFeed: string,
    private readonly stocksFeed: string,
  ) {}

  /** Active contracts of the underlyings expiring within the window, every page. */
  async optionContracts(query: ContractQuery, signal?: AbortSignal): Promise<AlpacaOptionContract[]> {
    const contracts: AlpacaOptionContract[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = await this.http.getJson<ContractsPage>(
        this.urls.trading,
        '/v2/options/contracts',
        {
          underlying_symbols: query.underlyings.join(','),
          status: 'active',
          expiration_date_gte: query.expirationFrom,
          expiration_date_lte: query.expirationTo,
          limit: query.pageSize ?? 10_000,
          page_token: pageToken,
        },
        signal,
      );
      contracts.push(...(body.option_contracts ?? []));
      pageToken = body.next_page_token ?? undefined;
      if (!pageToken) return contracts;
    }
    throw new Error(`GET /v2/options/contracts still had pages after ${MAX_PAGES}: giving up`);
  }

  /** Snapshots of an underlying's contracts expiring up to `expirationTo`, every page, keyed by OCC symbol as sent. */
  async optionSnapshots(
    underlying: string,
    expirationTo: string,
    signal?: AbortSignal,
    pageSize = 1000,
  ): Promise<Map<string, AlpacaOptionSnapshot>> {
    const snapshots = new Map<string, AlpacaOptionSnapshot>();
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = await this.http.getJson<OptionSnapshotsPage>(
        this.urls.data,
        `/v1beta1/options/snapshots/${encodeURIComponent(underlying)}`,
        { feed: this.optionsFeed, expiration_date_lte: expirationTo, limit: pageSize, page_token: pageToken },
        signal,
      );
      for (const [symbol, snapshot] of Object.entries(body.snapshots ?? {})) snapshots.set(symbol, snapshot);
      pageToken = body.next_page_token ?? undefined;
      if (!pageToken) return snapshots;
    }
    throw new Error(`GET /v1beta1/options/snapshots/${underlying} still had pages after ${MAX_PAGES}: giving up`);
  }

  /** The latest quote of each ticker. */
  async stockSnapshots(symbols: readonly string[], signal?: AbortSignal): Promise<Map<string, AlpacaStockSnapshot>> {
    const body = await this.http.getJson<Record<string, AlpacaStockSnapshot | null>>(
      this.urls.data,
      '/v2/stocks/snapshots',
      { symbols: symbols.join(','), feed: this.stocksFeed },
      signal,
    );
    const snapshots = new Map<string, AlpacaStockSnapshot>();
    for (const [symbol, snapshot] of Object.entries(body ?? {})) if (snapshot) snapshots.set(symbol, snapshot);
    return snapshots;
  }
}
