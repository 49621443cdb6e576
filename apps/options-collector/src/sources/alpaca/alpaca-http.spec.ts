import { AlpacaFatalError, AlpacaHttpError } from './alpaca-errors';
import { AlpacaHttpClient, retryAfterMs } from './alpaca-http';
import { AlpacaRestApi } from './alpaca-rest';
import { AlpacaPeer, contractOf } from './testing/alpaca-peer';

const KEY = 'PKTESTKEY0000000001';
const SECRET = 'test-secret-9f8e7d6c5b4a';

const contracts = Array.from({ length: 25 }, (_, index) =>
  contractOf(`SPY250321C${String((500 + index) * 1000).padStart(8, '0')}`, 'SPY', String(index * 10)),
);

describe('Alpaca REST APIs', () => {
  let peer: AlpacaPeer;

  beforeEach(async () => {
    peer = await AlpacaPeer.start({
      keyId: KEY,
      secretKey: SECRET,
      contracts,
      pageSize: 10,
      optionSnapshots: {
        SPY: Object.fromEntries(
          contracts.map((contract, index) => [contract.symbol, { impliedVolatility: 0.2 + index / 100, greeks: { delta: 0.5 } }]),
        ),
      },
    });
  });

  afterEach(() => peer.stop());

  const api = (options: Partial<ConstructorParameters<typeof AlpacaHttpClient>[0]> = {}): { http: AlpacaHttpClient; rest: AlpacaRestApi } => {
    const http = new AlpacaHttpClient({
      credentials: { keyId: KEY, secretKey: SECRET },
      retryBaseMs: 10,
      retryMaxMs: 200,
      random: () => 0.5,
      ...options,
    });
    return { http, rest: new AlpacaRestApi(http, { trading: peer.httpUrl, data: peer.httpUrl }, 'indicative', 'iex') };
  };

  it('lists every contract across pages, sending the key headers, the window and the page token', async () => {
    const { rest } = api();
    const listed = await rest.optionContracts({ underlyings: ['SPY', 'QQQ'], expirationFrom: '2025-03-03', expirationTo: '2025-04-02' });
    expect(listed.map((contract) => contract.symbol)).toEqual(contracts.map((contract) => contract.symbol));
    const calls = peer.requests.filter((request) => request.path === '/v2/options/contracts');
    expect(calls).toHaveLength(3);
    expect(calls[0].query).toMatchObject({
      underlying_symbols: 'SPY,QQQ',
      status: 'active',
      expiration_date_gte: '2025-03-03',
      expiration_date_lte: '2025-04-02',
    });
    expect(calls[0].query['page_token']).toBeUndefined();
    expect(calls[1].query['page_token']).toBeDefined();
    expect(calls[0].headers['apca-api-key-id']).toBe(KEY);
  });

  it('reads option snapshots across pages with their IV and Greeks', async () => {
    const { rest } = api();
    const snapshots = await rest.optionSnapshots('SPY', '2025-04-02', undefined, 10);
    expect(snapshots.size).toBe(25);
    expect(snapshots.get(contracts[3].symbol)).toEqual({ impliedVolatility: 0.23, greeks: { delta: 0.5 } });
    expect(peer.requests.filter((request) => request.path === '/v1beta1/options/snapshots/SPY')).toHaveLength(3);
  });

  /** Records each wait between attempts instead of sleeping through it. */
  const recordedWaits = (): { waits: number[]; wait: (ms: number) => Promise<void> } => {
    const waits: number[] = [];
    return { waits, wait: async (ms) => void waits.push(ms) };
  };

  it('backs off on 429 for as long as Retry-After says, then gets the answer', async () => {
    peer.failNext('/v2/options/contracts', 2, 429, { retryAfter: '0.15' });
    const { waits, wait } = recordedWaits();
    const { http, rest } = api({ wait });
    const listed = await rest.optionContracts({ underlyings: ['SPY'], expirationFrom: '2025-03-03', expirationTo: '2025-04-02' });
    expect(listed).toHaveLength(25);
    expect(waits).toEqual([150, 150]);
    expect(http.rateLimited).toBe(2);
    expect(peer.requests.map((request) => request.status).slice(0, 3)).toEqual([429, 429, 200]);
  });

  it('backs off exponentially on 429 without Retry-After, and gives up with a clear error after the last attempt', async () => {
    peer.failNext('/v2/options/contracts', 10, 429);
    const { waits, wait } = recordedWaits();
    const { rest } = api({ maxAttempts: 3, wait });
    await expect(
      rest.optionContracts({ underlyings: ['SPY'], expirationFrom: '2025-03-03', expirationTo: '2025-04-02' }),
    ).rejects.toThrow(/GET \/v2\/options\/contracts\?.* answered 429 3 times; last: too many requests/);
    expect(peer.requests).toHaveLength(3);
    // Ceilings of 10 and 20 ms (doubling from retryBaseMs), three quarters of each with the fixed jitter draw.
    expect(waits).toEqual([8, 15]);
  });

  it('retries a 5xx answer and then succeeds', async () => {
    peer.failNext('/v2/stocks/snapshots', 1, 503);
    const { rest } = api();
    await expect(rest.stockSnapshots(['SPY'])).resolves.toEqual(new Map());
    expect(peer.requests.map((request) => request.status)).toEqual([503, 200]);
  });

  it('refuses bad credentials at once with an error naming the variables to check, never the secret', async () => {
    const http = new AlpacaHttpClient({ credentials: { keyId: KEY, secretKey: 'wrong-secret-value' }, retryBaseMs: 10 });
    const rest = new AlpacaRestApi(http, { trading: peer.httpUrl, data: peer.httpUrl }, 'indicative', 'iex');
    const error = await rest
      .optionContracts({ underlyings: ['SPY'], expirationFrom: '2025-03-03', expirationTo: '2025-04-02' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AlpacaFatalError);
    expect((error as Error).message).toMatch(/refused with 401 \(unauthorized\.\).*ALPACA_API_KEY_ID.*ALPACA_API_SECRET_KEY/);
    expect((error as Error).message).not.toContain('wrong-secret-value');
    expect(peer.requests).toHaveLength(1);
  });

  it('turns another 4xx into an error with the path, status and Alpaca message, without retrying', async () => {
    peer.failNext('/v2/options/contracts', 1, 422, { message: 'invalid expiration_date_gte' });
    const { rest } = api();
    const error = await rest
      .optionContracts({ underlyings: ['SPY'], expirationFrom: 'bad', expirationTo: '2025-04-02' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AlpacaHttpError);
    expect(error).toMatchObject({ status: 422, path: '/v2/options/contracts' });
    expect((error as Error).message).toMatch(/answered 422: invalid expiration_date_gte$/);
    expect(peer.requests).toHaveLength(1);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
