import { eventually } from '@tributary/testing';
import { AlpacaFatalError } from './alpaca-errors';
import { AlpacaStream, type AlpacaStreamOptions, type StreamDataMessage } from './alpaca-stream';
import { AlpacaPeer, type AlpacaPeerOptions, optionQuoteMessage, type PeerConnection } from './testing/alpaca-peer';

const KEY = 'PKSTREAMKEY000000001';
const SECRET = 'stream-secret-1a2b3c4d';
const FEED = 'v1beta1/indicative';
const CALL = 'SPY250321C00500000';
const PUT = 'SPY250321P00500000';
const OTHER = 'SPY250321C00505000';
const RECONNECT_MAX_MS = 100;
/** How long a condition on the local peer may take to hold: generous, since a busy machine only delays it. */
const SETTLES_WITHIN_MS = 20_000;

jest.setTimeout(2 * SETTLES_WITHIN_MS);

describe('Alpaca market data stream', () => {
  let peer: AlpacaPeer;
  let stream: AlpacaStream | undefined;
  let extra: AlpacaStream[] = [];
  const received: StreamDataMessage[] = [];

  const open = async (peerOptions: Partial<AlpacaPeerOptions> = {}, options: Partial<AlpacaStreamOptions> = {}): Promise<AlpacaStream> => {
    peer = await AlpacaPeer.start({ keyId: KEY, secretKey: SECRET, ...peerOptions });
    stream = newStream(options);
    return stream;
  };

  const newStream = (options: Partial<AlpacaStreamOptions> = {}): AlpacaStream =>
    new AlpacaStream({
      name: 'options',
      url: `${peer.wsUrl}/${FEED}`,
      credentials: { keyId: KEY, secretKey: SECRET },
      channels: ['trades', 'quotes'],
      onMessages: (messages) => {
        received.push(...messages);
      },
      reconnectBaseMs: 20,
      reconnectMaxMs: RECONNECT_MAX_MS,
      random: () => 0.5,
      ...options,
    });

  /**
   * Resolves once every reconnect the stream could have scheduled so far is due: its timers wait at most
   * the longest backoff and fire in order, so a reconnect would have started (state 'connecting').
   */
  const pastLongestBackoff = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, RECONNECT_MAX_MS + 1));

  const subscribeMessages = (connection: PeerConnection): Record<string, unknown>[] =>
    connection.received.filter((message) => message['action'] === 'subscribe' || message['action'] === 'unsubscribe');

  beforeEach(() => {
    received.length = 0;
    extra = [];
  });

  afterEach(async () => {
    await stream?.stop();
    for (const other of extra) await other.stop();
    stream = undefined;
    await peer.stop();
  });

  it('connects with the msgpack content type, authenticates, subscribes and has the subscription confirmed', async () => {
    const alpaca = await open();
    alpaca.subscribe([CALL, PUT]);
    alpaca.start();
    await alpaca.whenStreaming();
    await eventually(() => alpaca.confirmedSymbols().size === 2, SETTLES_WITHIN_MS, 'subscription confirmed');
    const [connection] = peer.connections;
    expect(connection.headers['content-type']).toBe('application/msgpack');
    expect(connection.received[0]).toEqual({ action: 'auth', key: KEY, secret: SECRET });
    expect(subscribeMessages(connection)).toEqual([{ action: 'subscribe', trades: [CALL, PUT], quotes: [CALL, PUT] }]);
    expect([...alpaca.confirmedSymbols()].sort()).toEqual([CALL, PUT]);
    expect(alpaca.status()).toMatchObject({ state: 'streaming', wanted: 2, confirmed: 2, reconnects: 0 });

    peer.publish(FEED, [optionQuoteMessage(CALL, '1741012200123456789', { bp: 1.5, bs: 10, ap: 1.6, as: 12 })]);
    await eventually(() => received.length === 1, SETTLES_WITHIN_MS, 'quote delivered');
    expect(received[0]).toMatchObject({ T: 'q', S: CALL, bp: 1.5, ap: 1.6 });
  });

  it('sends only the difference when the selection changes', async () => {
    const alpaca = await open();
    alpaca.subscribe([CALL, PUT]);
    alpaca.start();
    await alpaca.whenStreaming();
    alpaca.unsubscribe([PUT]);
    alpaca.subscribe([CALL, OTHER]);
    await eventually(() => peer.connections[0].subscriptions.has(OTHER), SETTLES_WITHIN_MS, 'new symbol held by the server');
    expect(subscribeMessages(peer.connections[0])).toEqual([
      { action: 'subscribe', trades: [CALL, PUT], quotes: [CALL, PUT] },
      { action: 'unsubscribe', trades: [PUT], quotes: [PUT] },
      { action: 'subscribe', trades: [OTHER], quotes: [OTHER] },
    ]);
    expect([...peer.connections[0].subscriptions].sort()).toEqual([CALL, OTHER]);
  });

  it('gives up without retrying when the credentials are refused (402) and says which variables to check', async () => {
    const fatal: AlpacaFatalError[] = [];
    const alpaca = await open({}, { credentials: { keyId: KEY, secretKey: 'not-the-secret' }, onFatal: (error) => fatal.push(error) });
    alpaca.start();
    await expect(alpaca.whenStreaming()).rejects.toThrow(/402 auth failed.*ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY/);
    expect(fatal).toHaveLength(1);
    expect(fatal[0].code).toBe(402);
    await pastLongestBackoff();
    expect(alpaca.status().state).toBe('failed');
    expect(peer.connections).toHaveLength(1);
  });

  it('gives up when the plan does not include the feed (409 insufficient subscription)', async () => {
    const alpaca = await open({ feeds: ['v1beta1/opra'] });
    alpaca.start();
    await expect(alpaca.whenStreaming()).rejects.toThrow(/409 insufficient subscription/);
    await pastLongestBackoff();
    expect(alpaca.status().state).toBe('failed');
    expect(peer.connections).toHaveLength(1);
  });

  it('reconnects after the server drops the connection and subscribes the current selection again', async () => {
    const reconnects: number[] = [];
    const alpaca = await open({}, { onReconnect: () => reconnects.push(Date.now()) });
    alpaca.subscribe([CALL, PUT]);
    alpaca.start();
    await alpaca.whenStreaming();
    peer.dropConnections();
    // Changed while the connection is down: the new connection must get the selection as it is now.
    alpaca.unsubscribe([PUT]);
    alpaca.subscribe([OTHER]);
    await eventually(() => peer.live(FEED).length === 1 && peer.live(FEED)[0].subscriptions.size === 2, SETTLES_WITHIN_MS, 'resubscribed');
    const connection = peer.live(FEED)[0];
    expect(connection).not.toBe(peer.connections[0]);
    expect(subscribeMessages(connection)).toEqual([{ action: 'subscribe', trades: [CALL, OTHER], quotes: [CALL, OTHER] }]);
    expect(reconnects).toHaveLength(1);
    expect(alpaca.status()).toMatchObject({ state: 'streaming', reconnects: 1 });

    peer.publish(FEED, [optionQuoteMessage(OTHER, '1741012201000000001', { bp: 1, bs: 1, ap: 1.1, as: 1 })]);
    await eventually(() => received.some((message) => message.S === OTHER), SETTLES_WITHIN_MS, 'data after the reconnect');
  });

  it('reconnects with backoff after a slow-client error (407)', async () => {
    const alpaca = await open();
    alpaca.subscribe([CALL]);
    alpaca.start();
    await alpaca.whenStreaming();
    peer.sendError(FEED, 407, 'slow client', true);
    await eventually(() => peer.connections.length === 2 && peer.live(FEED).length === 1, SETTLES_WITHIN_MS, 'reconnected');
    await eventually(() => peer.live(FEED)[0].subscriptions.has(CALL), SETTLES_WITHIN_MS, 'resubscribed');
    expect(alpaca.status().reconnects).toBe(1);
  });

  it('keeps retrying while another client holds the connection (406) and gets in once it is free', async () => {
    const first = await open();
    first.start();
    await first.whenStreaming();
    const second = newStream();
    extra.push(second);
    second.subscribe([CALL]);
    second.start();
    await eventually(() => peer.connections.length >= 3, SETTLES_WITHIN_MS, 'several refused attempts');
    expect(second.status().lastError).toMatch(/406 connection limit exceeded|connection closed/);
    expect(peer.live(FEED)).toHaveLength(1);
    await first.stop();
    await second.whenStreaming();
    await eventually(() => peer.live(FEED)[0]?.subscriptions.has(CALL), SETTLES_WITHIN_MS, 'second stream subscribed');
  });

  it('caps subscriptions at what the server accepted when the symbol limit is exceeded (405) and reports the rest', async () => {
    const alpaca = await open({ symbolLimit: 2 }, { symbolsPerMessage: 2 });
    alpaca.subscribe([CALL, PUT]);
    alpaca.start();
    await alpaca.whenStreaming();
    await eventually(() => alpaca.confirmedSymbols().size === 2, SETTLES_WITHIN_MS, 'first two confirmed');
    alpaca.subscribe([OTHER]);
    await eventually(() => alpaca.status().symbolLimit === 2, SETTLES_WITHIN_MS, 'limit learnt');
    expect(alpaca.status()).toMatchObject({ wanted: 3, confirmed: 2, symbolLimit: 2, leftOut: 1 });
    expect(alpaca.leftOut()).toEqual([OTHER]);
    // Room frees up when the selection moves: the capped symbol goes in then, within the limit.
    alpaca.unsubscribe([PUT]);
    await eventually(() => peer.live(FEED)[0].subscriptions.has(OTHER), SETTLES_WITHIN_MS, 'capped symbol subscribed once there is room');
    expect([...peer.live(FEED)[0].subscriptions].sort()).toEqual([CALL, OTHER]);
    expect(alpaca.status().leftOut).toBe(0);
  });

  it('reconnects after an authentication timeout (404) instead of giving up', async () => {
    // The server leaves the first two auth messages unanswered and times them out.
    const alpaca = await open({ authTimeoutMs: 50, ignoreAuthMessages: 2 });
    alpaca.subscribe([CALL]);
    alpaca.start();
    await alpaca.whenStreaming();
    expect(peer.connections).toHaveLength(3);
    await eventually(() => peer.live(FEED)[0]?.subscriptions.has(CALL), SETTLES_WITHIN_MS, 'subscribed on the third connection');
    expect(alpaca.status().state).toBe('streaming');
  });

  it('drops a connection whose server never answers and tries again', async () => {
    await open();
    const net = await import('node:net');
    let attempts = 0;
    const silent = net.createServer((socket) => {
      attempts++;
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const quiet = newStream({ url: `ws://127.0.0.1:${port}/${FEED}`, authTimeoutMs: 100 });
    extra.push(quiet);
    quiet.start();
    await eventually(() => attempts >= 2, SETTLES_WITHIN_MS, 'a second attempt');
    expect(quiet.status().state).not.toBe('failed');
    expect(quiet.status().lastError).not.toBeNull();
    await quiet.stop();
    await new Promise((resolve) => silent.close(resolve));
  });
});
