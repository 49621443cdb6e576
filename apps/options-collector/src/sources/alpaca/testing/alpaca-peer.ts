import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeFrame, encodeFrame, wireTimestampOf } from '../alpaca-msgpack';
import type { AlpacaOptionContract, AlpacaOptionSnapshot, AlpacaStockSnapshot } from '../alpaca-rest';

/**
 * A local stand-in for Alpaca, for tests: the trading and data REST endpoints the source calls and the
 * market data WebSocket streams, on 127.0.0.1 (ephemeral port), speaking the same protocol: msgpack
 * frames of message arrays, connect/auth/subscribe/unsubscribe, subscription confirmations and the
 * error codes. Tests drive it (publish quotes and trades, drop connections, inject errors) and read
 * what it received.
 */
export interface AlpacaPeerOptions {
  readonly keyId: string;
  readonly secretKey: string;
  readonly contracts?: readonly AlpacaOptionContract[];
  /** Underlying -> OCC symbol (as Alpaca sends it) -> snapshot. */
  readonly optionSnapshots?: Readonly<Record<string, Readonly<Record<string, AlpacaOptionSnapshot>>>>;
  readonly stockSnapshots?: Readonly<Record<string, AlpacaStockSnapshot>>;
  /** Largest page the REST endpoints return, whatever `limit` asks. */
  readonly pageSize?: number;
  /** Symbols one stream connection may hold; more gets error 405. */
  readonly symbolLimit?: number;
  /** Authenticated connections per feed at once; one more gets error 406. Default 1. */
  readonly connectionLimit?: number;
  /** Feeds the account's plan includes; others get error 409 at authentication. Default: all. */
  readonly feeds?: readonly string[];
  /** Time allowed to authenticate after connecting (error 404 then). Default 10 s. */
  readonly authTimeoutMs?: number;
  /** The first this many auth messages get no answer (so the server's auth timeout, 404, fires). */
  readonly ignoreAuthMessages?: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
  readonly status: number;
}

export interface PeerConnection {
  readonly feed: string;
  readonly headers: IncomingMessage['headers'];
  /** Messages the client sent, decoded. */
  readonly received: Record<string, unknown>[];
  readonly subscriptions: Set<string>;
  authenticated: boolean;
  readonly socket: WebSocket;
}

interface InjectedFailure {
  readonly pathPrefix: string;
  remaining: number;
  readonly status: number;
  readonly retryAfter?: string;
  readonly body: unknown;
}

export class AlpacaPeer {
  readonly requests: RecordedRequest[] = [];
  readonly connections: PeerConnection[] = [];
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly failures: InjectedFailure[] = [];
  private contracts: AlpacaOptionContract[];
  private baseUrl = '';
  private authMessagesIgnored = 0;

  private constructor(private readonly options: AlpacaPeerOptions) {
    this.contracts = [...(options.contracts ?? [])];
    this.server = createServer((request, response) => this.onRequest(request, response));
    this.wss = new WebSocketServer({ server: this.server });
    this.wss.on('connection', (socket, request) => this.onConnection(socket, request));
  }

  static async start(options: AlpacaPeerOptions): Promise<AlpacaPeer> {
    const peer = new AlpacaPeer(options);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    const { port } = peer.server.address() as AddressInfo;
    peer.baseUrl = `127.0.0.1:${port}`;
    return peer;
  }

  get httpUrl(): string {
    return `http://${this.baseUrl}`;
  }

  get wsUrl(): string {
    return `ws://${this.baseUrl}`;
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  setContracts(contracts: readonly AlpacaOptionContract[]): void {
    this.contracts = [...contracts];
  }

  /** The next `times` requests whose path starts with the prefix answer `status` (e.g. 429 with Retry-After). */
  failNext(pathPrefix: string, times: number, status: number, options: { retryAfter?: string; message?: string } = {}): void {
    this.failures.push({
      pathPrefix,
      remaining: times,
      status,
      retryAfter: options.retryAfter,
      body: { message: options.message ?? (status === 429 ? 'too many requests' : `status ${status}`) },
    });
  }

  /** Authenticated connections of a feed ("v1beta1/indicative", "v2/iex"), oldest first. */
  live(feed: string): PeerConnection[] {
    return this.connections.filter(
      (connection) => connection.feed === feed && connection.authenticated && connection.socket.readyState === WebSocket.OPEN,
    );
  }

  /**
   * Sends market data messages to every authenticated connection of the feed subscribed to their symbol;
   * `unfiltered` sends them all, as a server does for a moment after an unsubscribe.
   */
  publish(feed: string, messages: readonly Record<string, unknown>[], options: { unfiltered?: boolean } = {}): void {
    for (const connection of this.live(feed)) {
      const mine = options.unfiltered
        ? messages
        : messages.filter((message) => connection.subscriptions.has(String(message['S'])));
      if (mine.length > 0) connection.socket.send(encodeFrame(mine), { binary: true });
    }
  }

  /** Sends an error to every live connection of the feed, then closes them when the code does (407). */
  sendError(feed: string, code: number, msg: string, close = false): void {
    for (const connection of this.live(feed)) {
      connection.socket.send(encodeFrame([{ T: 'error', code, msg }]), { binary: true });
      if (close) connection.socket.close();
    }
  }

  /** Drops every connection at once, as a server restart or a network cut would. */
  dropConnections(): void {
    for (const client of this.wss.clients) client.terminate();
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.httpUrl);
    const query = Object.fromEntries(url.searchParams);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      this.requests.push({ method: request.method ?? 'GET', path: url.pathname, query, headers: request.headers, status });
      response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    if (request.headers['apca-api-key-id'] !== this.options.keyId || request.headers['apca-api-secret-key'] !== this.options.secretKey) {
      reply(401, { message: 'unauthorized.' });
      return;
    }
    const failure = this.failures.find((candidate) => candidate.remaining > 0 && url.pathname.startsWith(candidate.pathPrefix));
    if (failure) {
      failure.remaining--;
      reply(failure.status, failure.body, failure.retryAfter === undefined ? {} : { 'Retry-After': failure.retryAfter });
      return;
    }
    const limit = Math.min(Number(query['limit'] ?? 100), this.options.pageSize ?? Number.MAX_SAFE_INTEGER);
    const offset = query['page_token'] ? Number(Buffer.from(query['page_token'], 'base64url').toString('utf8')) : 0;
    const page = <T>(items: T[]): { items: T[]; next: string | null } => ({
      items: items.slice(offset, offset + limit),
      next: offset + limit < items.length ? Buffer.from(String(offset + limit)).toString('base64url') : null,
    });
    if (url.pathname === '/v2/options/contracts') {
      const underlyings = (query['underlying_symbols'] ?? '').split(',').filter((symbol) => symbol !== '');
      const matching = this.contracts.filter(
        (contract) =>
          (underlyings.length === 0 || underlyings.includes(contract.underlying_symbol)) &&
          (!query['expiration_date_gte'] || contract.expiration_date >= query['expiration_date_gte']) &&
          (!query['expiration_date_lte'] || contract.expiration_date <= query['expiration_date_lte']),
      );
      const { items, next } = page(matching);
      reply(200, { option_contracts: items, next_page_token: next });
      return;
    }
    const snapshotMatch = /^\/v1beta1\/options\/snapshots\/([A-Z0-9.]+)$/.exec(url.pathname);
    if (snapshotMatch) {
      const entries = Object.entries(this.options.optionSnapshots?.[snapshotMatch[1]] ?? {});
      const { items, next } = page(entries);
      reply(200, { snapshots: Object.fromEntries(items), next_page_token: next });
      return;
    }
    if (url.pathname === '/v2/stocks/snapshots') {
      const symbols = (query['symbols'] ?? '').split(',');
      const found = symbols.filter((symbol) => this.options.stockSnapshots?.[symbol]);
      reply(200, Object.fromEntries(found.map((symbol) => [symbol, this.options.stockSnapshots?.[symbol]])));
      return;
    }
    reply(404, { message: 'Not Found' });
  }

  private onConnection(socket: WebSocket, request: IncomingMessage): void {
    const feed = (request.url ?? '/').replace(/^\/+/, '').split('?')[0];
    const connection: PeerConnection = {
      feed,
      headers: request.headers,
      received: [],
      subscriptions: new Set(),
      authenticated: false,
      socket,
    };
    this.connections.push(connection);
    const send = (messages: Record<string, unknown>[]): void => {
      if (socket.readyState === WebSocket.OPEN) socket.send(encodeFrame(messages), { binary: true });
    };
    if (feed.startsWith('v1beta1/') && request.headers['content-type'] !== 'application/msgpack') {
      socket.send(JSON.stringify([{ T: 'error', code: 412, msg: 'option messages are only available in MsgPack format' }]));
      socket.close();
      return;
    }
    send([{ T: 'success', msg: 'connected' }]);
    const authTimer = setTimeout(() => {
      if (connection.authenticated) return;
      send([{ T: 'error', code: 404, msg: 'auth timeout' }]);
      socket.close();
    }, this.options.authTimeoutMs ?? 10_000);
    socket.on('close', () => clearTimeout(authTimer));
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      let message: Record<string, unknown>;
      try {
        message = (isBinary ? decodeFrame(data) : JSON.parse(data.toString('utf8'))) as Record<string, unknown>;
      } catch {
        send([{ T: 'error', code: 400, msg: 'invalid syntax' }]);
        return;
      }
      connection.received.push(message);
      this.onClientMessage(connection, message, send);
    });
  }

  private onClientMessage(
    connection: PeerConnection,
    message: Record<string, unknown>,
    send: (messages: Record<string, unknown>[]) => void,
  ): void {
    switch (message['action']) {
      case 'auth': {
        if (this.authMessagesIgnored < (this.options.ignoreAuthMessages ?? 0)) {
          this.authMessagesIgnored++;
          return;
        }
        if (connection.authenticated) {
          send([{ T: 'error', code: 403, msg: 'already authenticated' }]);
          return;
        }
        if (message['key'] !== this.options.keyId || message['secret'] !== this.options.secretKey) {
          send([{ T: 'error', code: 402, msg: 'auth failed' }]);
          connection.socket.close();
          return;
        }
        if (this.options.feeds && !this.options.feeds.includes(connection.feed)) {
          send([{ T: 'error', code: 409, msg: 'insufficient subscription' }]);
          connection.socket.close();
          return;
        }
        if (this.live(connection.feed).length >= (this.options.connectionLimit ?? 1)) {
          send([{ T: 'error', code: 406, msg: 'connection limit exceeded' }]);
          connection.socket.close();
          return;
        }
        connection.authenticated = true;
        send([{ T: 'success', msg: 'authenticated' }]);
        return;
      }
      case 'subscribe':
      case 'unsubscribe': {
        if (!connection.authenticated) {
          send([{ T: 'error', code: 401, msg: 'not authenticated' }]);
          return;
        }
        const symbols = new Set<string>();
        for (const channel of ['trades', 'quotes']) {
          const list = message[channel];
          if (Array.isArray(list)) for (const symbol of list) symbols.add(String(symbol));
        }
        const next = new Set(connection.subscriptions);
        for (const symbol of symbols) {
          if (message['action'] === 'subscribe') next.add(symbol);
          else next.delete(symbol);
        }
        if (next.size > (this.options.symbolLimit ?? Number.MAX_SAFE_INTEGER)) {
          send([{ T: 'error', code: 405, msg: 'symbol limit exceeded' }]);
          return;
        }
        connection.subscriptions.clear();
        for (const symbol of next) connection.subscriptions.add(symbol);
        const list = [...connection.subscriptions];
        send([{ T: 'subscription', trades: list, quotes: list }]);
        return;
      }
      default:
        send([{ T: 'error', code: 400, msg: 'invalid syntax' }]);
    }
  }
}

/** A quote of the option feed at an exact epoch-ns time. */
export function optionQuoteMessage(
  symbol: string,
  ts: string,
  quote: { bp: number; bs: number; ap: number; as: number; bx?: string; ax?: string; c?: string },
): Record<string, unknown> {
  return { T: 'q', S: symbol, bx: quote.bx ?? 'C', ax: quote.ax ?? 'X', c: quote.c ?? 'A', t: wireTimestampOf(ts), ...quote };
}

/** A trade of the option feed at an exact epoch-ns time. */
export function optionTradeMessage(
  symbol: string,
  ts: string,
  trade: { p: number; s: number; x?: string; c?: string },
): Record<string, unknown> {
  return { T: 't', S: symbol, x: trade.x ?? 'C', c: trade.c ?? 'I', t: wireTimestampOf(ts), ...trade };
}

/** A quote of the stock feed at an exact epoch-ns time. */
export function stockQuoteMessage(symbol: string, ts: string, quote: { bp: number; ap: number; bs?: number; as?: number }): Record<string, unknown> {
  return { T: 'q', S: symbol, bx: 'V', bs: 1, ax: 'V', as: 1, c: ['R'], z: 'B', t: wireTimestampOf(ts), ...quote };
}

/** A trade of the stock feed at an exact epoch-ns time. */
export function stockTradeMessage(symbol: string, ts: string, trade: { p: number; s: number; i: number }): Record<string, unknown> {
  return { T: 't', S: symbol, x: 'V', c: ['@'], z: 'B', t: wireTimestampOf(ts), ...trade };
}

/** A contract as the trading API lists it (numbers as strings). */
export function contractOf(symbol: string, underlying: string, openInterest: string | null = '100'): AlpacaOptionContract {
  const match = /^([A-Z0-9]{1,6}) *(\d{2})(\d{2})(\d{2})([CP])(\d{8})$/.exec(symbol);
  if (!match) throw new Error(`not an OCC symbol: ${symbol}`);
  return {
    symbol,
    status: 'active',
    tradable: true,
    expiration_date: `20${match[2]}-${match[3]}-${match[4]}`,
    root_symbol: match[1],
    underlying_symbol: underlying,
    type: match[5] === 'C' ? 'call' : 'put',
    style: 'american',
    strike_price: String(Number(match[6]) / 1000),
    size: '100',
    open_interest: openInterest,
    open_interest_date: null,
    close_price: null,
    close_price_date: null,
  };
}

