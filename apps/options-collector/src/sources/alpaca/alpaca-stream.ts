import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { AlpacaCredentials } from './alpaca-http';
import { decodeFrame, encodeFrame } from './alpaca-msgpack';
import { AlpacaFatalError, streamErrorRule } from './alpaca-errors';

/** A market data message of the stream (`T` 'q' quote, 't' trade, ...), fields as sent. */
export type StreamDataMessage = { readonly T: string; readonly S: string } & Readonly<Record<string, unknown>>;

export type StreamState =
  | 'idle'
  | 'connecting'
  | 'authenticating'
  | 'streaming'
  | 'waiting-to-reconnect'
  | 'failed'
  | 'stopped';

export interface AlpacaStreamOptions {
  /** For logs, metrics and /status: "options" or "stocks". */
  readonly name: string;
  /** Full URL of the feed, e.g. wss://stream.data.alpaca.markets/v1beta1/indicative. */
  readonly url: string;
  readonly credentials: AlpacaCredentials;
  /** Channels every symbol is subscribed on, e.g. ['trades', 'quotes']. */
  readonly channels: readonly string[];
  /** Receives the data messages of one frame, in order; a promise holds further frames back. */
  readonly onMessages: (messages: StreamDataMessage[]) => void | Promise<void>;
  /** Called once the stream is streaming again after a lost connection. */
  readonly onReconnect?: () => void;
  /** Called when the stream gives up for good (bad credentials, a plan without the feed). */
  readonly onFatal?: (error: AlpacaFatalError) => void;
  readonly logger?: Logger;
  /** Wait before the first reconnect; doubles up to `reconnectMaxMs`, with jitter. Default 500 ms / 30 s. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /** Time allowed from opening the socket to "authenticated"; default 15 s. */
  readonly authTimeoutMs?: number;
  /** Ping interval; a connection that misses a pong by the next ping is dropped. Default 30 s. */
  readonly pingIntervalMs?: number;
  /** Symbols per subscribe or unsubscribe message; default 500. */
  readonly symbolsPerMessage?: number;
  readonly random?: () => number;
}

/** What /status shows of one stream. */
export interface StreamStatus {
  readonly state: StreamState;
  /** Symbols the collector wants on this stream. */
  readonly wanted: number;
  /** Symbols the server confirmed in its last subscription message. */
  readonly confirmed: number;
  /** Cap learnt from a 405 (symbol limit exceeded), if any. */
  readonly symbolLimit: number | null;
  /** Wanted symbols left out because of that cap. */
  readonly leftOut: number;
  readonly reconnects: number;
  readonly lastError: string | null;
}

/**
 * One connection to an Alpaca market data stream, speaking msgpack (the option feeds accept nothing
 * else): connect, authenticate, subscribe, and keep it so. The symbols wanted are the source's truth;
 * only the difference with what the server holds is sent. After a lost connection it reconnects with
 * exponential backoff and jitter and subscribes the current wanted set again; an error code decides
 * between giving up (credentials, plan), reconnecting, and capping subscriptions (405).
 */
export class AlpacaStream {
  private readonly wanted = new Set<string>();
  /** What the server holds as far as we know: what we sent since authenticating, corrected by its confirmations. */
  private held = new Set<string>();
  private confirmed = new Set<string>();
  private symbolLimit: number | undefined;
  private socket: WebSocket | undefined;
  private state: StreamState = 'idle';
  private attempt = 0;
  private reconnects = 0;
  private everStreamed = false;
  private lastError: string | null = null;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private streamingWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Frames are handled one after the other; the socket is paused while a listener holds us back. */
  private frames: Promise<void> = Promise.resolve();
  private framesQueued = 0;
  private readonly reconnectBaseMs: number;
  private readonly reconnectMaxMs: number;
  private readonly random: () => number;

  constructor(private readonly options: AlpacaStreamOptions) {
    this.reconnectBaseMs = options.reconnectBaseMs ?? 500;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  get name(): string {
    return this.options.name;
  }

  status(): StreamStatus {
    return {
      state: this.state,
      wanted: this.wanted.size,
      confirmed: this.confirmed.size,
      symbolLimit: this.symbolLimit ?? null,
      leftOut: this.leftOut().length,
      reconnects: this.reconnects,
      lastError: this.lastError,
    };
  }

  /** Symbols the server confirmed, as of its last subscription message. */
  confirmedSymbols(): ReadonlySet<string> {
    return this.confirmed;
  }

  wantedSymbols(): ReadonlySet<string> {
    return this.wanted;
  }

  start(): void {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this.connect();
  }

  /** Resolves once authenticated and subscribed; rejects if the stream fails for good or stops. */
  whenStreaming(): Promise<void> {
    if (this.state === 'streaming') return Promise.resolve();
    if (this.state === 'failed') return Promise.reject(new Error(this.lastError ?? 'the stream failed'));
    return new Promise((resolve, reject) => this.streamingWaiters.push({ resolve, reject }));
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.clearTimers();
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.settleWaiters(new Error(`the ${this.name} stream was stopped`));
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000, 'collector stopping');
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2000).unref();
      });
    }
    await this.frames.catch(() => undefined);
  }

  subscribe(symbols: readonly string[]): void {
    for (const symbol of symbols) this.wanted.add(symbol);
    this.sync();
  }

  unsubscribe(symbols: readonly string[]): void {
    for (const symbol of symbols) this.wanted.delete(symbol);
    this.sync();
  }

  /** Wanted symbols the server does not hold because of the symbol limit. */
  leftOut(): string[] {
    if (this.symbolLimit === undefined) return [];
    return [...this.wanted].filter((symbol) => !this.held.has(symbol));
  }

  private connect(): void {
    this.state = 'connecting';
    const socket = new WebSocket(this.options.url, {
      headers: { 'Content-Type': 'application/msgpack' },
      handshakeTimeout: this.options.authTimeoutMs ?? 15_000,
    });
    this.socket = socket;
    this.held = new Set();
    this.confirmed = new Set();
    socket.binaryType = 'nodebuffer';
    this.authTimer = setTimeout(() => {
      if (this.socket === socket && this.state !== 'streaming') {
        this.lost(socket, 'no authentication answer in time');
      }
    }, this.options.authTimeoutMs ?? 15_000);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.socket !== socket) return;
      this.enqueueFrame(socket, data, isBinary);
    });
    socket.on('pong', () => {
      (socket as WebSocket & { alive?: boolean }).alive = true;
    });
    socket.on('error', (error) => {
      if (this.socket !== socket) return;
      this.lastError = error.message;
    });
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return;
      this.lost(socket, `connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`);
    });
  }

  private enqueueFrame(socket: WebSocket, data: Buffer, isBinary: boolean): void {
    this.framesQueued++;
    if (this.framesQueued > 1) socket.pause();
    this.frames = this.frames
      .then(() => this.handleFrame(socket, data, isBinary))
      .catch((error: unknown) => {
        this.options.logger?.error({ err: error, stream: this.name }, 'handling a frame of the Alpaca stream failed');
      })
      .finally(() => {
        this.framesQueued--;
        if (this.framesQueued <= 1 && this.socket === socket && socket.isPaused) socket.resume();
      });
  }

  private async handleFrame(socket: WebSocket, data: Buffer, isBinary: boolean): Promise<void> {
    if (this.socket !== socket) return;
    let decoded: unknown;
    try {
      decoded = isBinary ? decodeFrame(data) : JSON.parse(data.toString('utf8'));
    } catch (error) {
      this.options.logger?.warn(
        { stream: this.name, bytes: data.length, reason: error instanceof Error ? error.message : String(error) },
        'an unreadable frame from the Alpaca stream was skipped',
      );
      return;
    }
    const messages = Array.isArray(decoded) ? decoded : [decoded];
    const market: StreamDataMessage[] = [];
    for (const message of messages) {
      if (typeof message !== 'object' || message === null) continue;
      const record = message as Record<string, unknown>;
      switch (record['T']) {
        case 'success':
          this.onSuccess(socket, String(record['msg']));
          break;
        case 'error':
          this.onError(socket, Number(record['code']), String(record['msg'] ?? ''));
          break;
        case 'subscription':
          this.onSubscription(record);
          break;
        default:
          if (typeof record['T'] === 'string' && typeof record['S'] === 'string') {
            market.push(record as StreamDataMessage);
          }
      }
      if (this.socket !== socket) return;
    }
    if (market.length > 0) await this.options.onMessages(market);
  }

  private onSuccess(socket: WebSocket, msg: string): void {
    if (msg === 'connected') {
      this.state = 'authenticating';
      this.send(socket, { action: 'auth', key: this.options.credentials.keyId, secret: this.options.credentials.secretKey });
      return;
    }
    if (msg === 'authenticated') {
      clearTimeout(this.authTimer);
      this.state = 'streaming';
      this.attempt = 0;
      this.lastError = null;
      if (this.everStreamed) {
        this.reconnects++;
        this.options.onReconnect?.();
        this.options.logger?.info({ stream: this.name, symbols: this.wanted.size }, 'Alpaca stream reconnected; subscribing the current selection again');
      } else {
        this.options.logger?.info({ stream: this.name }, 'Alpaca stream authenticated');
      }
      this.everStreamed = true;
      this.startPings(socket);
      this.sync();
      this.settleWaiters();
    }
  }

  private onError(socket: WebSocket, code: number, msg: string): void {
    const rule = streamErrorRule(code);
    const text = `${code} ${msg || rule.meaning}`;
    this.lastError = text;
    switch (rule.action) {
      case 'fatal': {
        const error = new AlpacaFatalError(`the Alpaca ${this.name} stream refused us: ${text} (${rule.meaning})`, code);
        this.options.logger?.error({ stream: this.name, code, msg }, `${error.message}; not retrying`);
        this.fail(socket, error);
        return;
      }
      case 'reconnect':
        this.options.logger?.warn({ stream: this.name, code, msg }, `Alpaca stream error (${rule.meaning}); reconnecting`);
        this.lost(socket, text);
        return;
      case 'symbol-limit': {
        // The server refused the subscribe that went over the limit and holds what it confirmed before.
        this.symbolLimit = this.confirmed.size;
        this.held = new Set(this.confirmed);
        const leftOut = this.leftOut();
        this.options.logger?.error(
          { stream: this.name, code, symbolLimit: this.symbolLimit, leftOut: leftOut.length, examples: leftOut.slice(0, 10) },
          'Alpaca symbol limit exceeded: subscriptions capped at what the server accepted; lower CHAIN_MAX_CONTRACTS to the plan limit',
        );
        return;
      }
      case 'ignore':
        this.options.logger?.warn({ stream: this.name, code, msg }, `Alpaca stream error (${rule.meaning})`);
        return;
    }
  }

  private onSubscription(record: Record<string, unknown>): void {
    const confirmed = new Set<string>();
    for (const channel of this.options.channels) {
      const list = record[channel];
      if (Array.isArray(list)) for (const symbol of list) if (typeof symbol === 'string') confirmed.add(symbol);
    }
    this.confirmed = confirmed;
  }

  /** Sends what the server lacks and withdraws what is no longer wanted, within the symbol limit. */
  private sync(): void {
    const socket = this.socket;
    if (!socket || this.state !== 'streaming' || socket.readyState !== WebSocket.OPEN) return;
    const remove = [...this.held].filter((symbol) => !this.wanted.has(symbol));
    for (const symbol of remove) this.held.delete(symbol);
    let add = [...this.wanted].filter((symbol) => !this.held.has(symbol));
    if (this.symbolLimit !== undefined) add = add.slice(0, Math.max(0, this.symbolLimit - this.held.size));
    for (const symbol of add) this.held.add(symbol);
    const size = this.options.symbolsPerMessage ?? 500;
    for (let i = 0; i < remove.length; i += size) this.send(socket, this.channelMessage('unsubscribe', remove.slice(i, i + size)));
    for (let i = 0; i < add.length; i += size) this.send(socket, this.channelMessage('subscribe', add.slice(i, i + size)));
  }

  private channelMessage(action: 'subscribe' | 'unsubscribe', symbols: string[]): Record<string, unknown> {
    const message: Record<string, unknown> = { action };
    for (const channel of this.options.channels) message[channel] = symbols;
    return message;
  }

  private send(socket: WebSocket, message: Record<string, unknown>): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(encodeFrame(message), { binary: true });
  }

  private startPings(socket: WebSocket): void {
    clearInterval(this.pingTimer);
    const interval = this.options.pingIntervalMs ?? 30_000;
    const tracked = socket as WebSocket & { alive?: boolean };
    tracked.alive = true;
    this.pingTimer = setInterval(() => {
      if (this.socket !== socket) return;
      if (!tracked.alive) {
        this.lost(socket, `no pong within ${interval} ms`);
        return;
      }
      tracked.alive = false;
      socket.ping();
    }, interval);
    this.pingTimer.unref();
  }

  /** The connection is unusable: drop it and come back after a backoff. */
  private lost(socket: WebSocket, reason: string): void {
    if (this.socket !== socket || this.state === 'stopped' || this.state === 'failed') return;
    this.socket = undefined;
    this.clearTimers();
    socket.removeAllListeners('message');
    socket.on('error', () => undefined);
    socket.terminate();
    this.held = new Set();
    this.confirmed = new Set();
    this.lastError = reason;
    this.attempt++;
    const ceiling = Math.min(this.reconnectMaxMs, this.reconnectBaseMs * 2 ** Math.min(this.attempt - 1, 20));
    const waitMs = Math.round(ceiling * (0.5 + this.random() / 2));
    this.state = 'waiting-to-reconnect';
    this.options.logger?.warn({ stream: this.name, reason, attempt: this.attempt, waitMs }, 'Alpaca stream connection lost; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      if (this.state === 'waiting-to-reconnect') this.connect();
    }, waitMs);
  }

  private fail(socket: WebSocket, error: AlpacaFatalError): void {
    this.state = 'failed';
    this.socket = undefined;
    this.clearTimers();
    socket.removeAllListeners('message');
    socket.on('error', () => undefined);
    socket.close();
    this.settleWaiters(error);
    this.options.onFatal?.(error);
  }

  private settleWaiters(error?: Error): void {
    const waiters = this.streamingWaiters;
    this.streamingWaiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  private clearTimers(): void {
    clearTimeout(this.authTimer);
    clearInterval(this.pingTimer);
  }
}
