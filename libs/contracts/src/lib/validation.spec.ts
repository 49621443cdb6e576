import { changeEventTopic, TOPIC_NAMES } from './catalog';
import { OptionQuote } from './events';
import { sampleEvent } from './samples';
import { compiledCheck, decodeEvent, formatFieldErrors, validateEvent, ValidationError } from './validation';
import type { FieldError } from './field-error';

// A fixed clock a little after the samples' event time, so the future-time check is deterministic.
const NOW_MS = Date.UTC(2025, 2, 21, 14, 31);
const at = { nowMs: NOW_MS };

function errorsOf(topic: string, value: unknown): readonly FieldError[] {
  const result = validateEvent(topic, value, at);
  if (result.ok) throw new Error(`expected ${topic} record to be rejected`);
  return result.errors;
}

describe('validateEvent', () => {
  it.each([...TOPIC_NAMES, 'cdc.public.orders', 'market.quotes.dlq', 'cdc.public.orders.dlq'])(
    'accepts the sample record of %s',
    (topic) => {
      expect(validateEvent(topic, sampleEvent(topic), at)).toEqual({ ok: true, value: sampleEvent(topic) });
    },
  );

  it('also accepts the samples on the real clock (their event time is in the past)', () => {
    for (const topic of TOPIC_NAMES) expect(validateEvent(topic, sampleEvent(topic)).ok).toBe(true);
  });

  it.each<[string, string, Record<string, unknown>, string, RegExp]>([
    ['a negative price', 'market.quotes', { bidPrice: -1 }, '/bidPrice', /^expected number >= 0, got -1$/],
    ['a zero trade price', 'market.trades', { price: 0 }, '/price', /^expected number > 0, got 0$/],
    [
      'a fractional size',
      'options.quotes',
      { bidSize: 1.5 },
      '/bidSize',
      /^expected integer, got number 1.5$/,
    ],
    [
      'a crossed quote',
      'market.quotes',
      { askPrice: 214.0 },
      '/askPrice',
      /crossed quote: ask 214 is below bid 214.1/,
    ],
    ['a crossed option quote', 'options.quotes', { askPrice: 6.0 }, '/askPrice', /crossed quote/],
    ['an event time in the future', 'options.trades', { ts: '1742571000000000000' }, '/ts', /in the future/],
    [
      'an event time in milliseconds',
      'market.trades',
      { ts: '1742567400123' },
      '/ts',
      /before 1990.*not seconds, milliseconds or microseconds/,
    ],
    [
      'an event time that is not a number',
      'market.quotes',
      { ts: '2025-03-21T14:30:00Z' },
      '/ts',
      /expected epoch nanoseconds as a decimal string/,
    ],
    [
      'an event time as a JSON number',
      'market.quotes',
      { ts: 1742567400123456800 },
      '/ts',
      /^expected string, got integer/,
    ],
    [
      'a wrong option right',
      'options.quotes',
      { right: 'c' },
      '/right',
      /^expected one of "call", "put", got "c"$/,
    ],
    [
      'an impossible expiration date',
      'options.trades',
      { expiration: '2025-02-30' },
      '/expiration',
      /not a calendar date/,
    ],
    [
      'an expiration that disagrees with the symbol',
      'options.quotes',
      { expiration: '2025-04-18' },
      '/expiration',
      /disagrees with the symbol/,
    ],
    [
      'a strike that disagrees with the symbol',
      'options.flow',
      { strike: 210 },
      '/strike',
      /disagrees with the symbol/,
    ],
    [
      'a symbol that is not an OCC symbol',
      'options.quotes',
      { symbol: 'AAPL 215C' },
      '/symbol',
      /expected an OCC option symbol/,
    ],
    ['an unknown field', 'market.trades', { venue: 'X' }, '/venue', /^unknown field$/],
    ['a lower-case ticker', 'market.quotes', { symbol: 'aapl' }, '/symbol', /upper-case ticker/],
    [
      'an unknown flow kind',
      'options.flow',
      { kind: 'whale' },
      '/kind',
      /expected one of "sweep", "block", "split", "unusual_volume"/,
    ],
    [
      'an empty list of exchanges',
      'options.flow',
      { exchanges: [] },
      '/exchanges',
      /expected at least 1 items, got 0/,
    ],
    [
      'a sentiment out of [-1, 1]',
      'news.sentiment',
      { sentiment: 1.5 },
      '/sentiment',
      /expected number <= 1, got 1.5/,
    ],
    [
      'a candle on the topic of another interval',
      'candles.1m',
      { interval: '1s' },
      '/interval',
      /1s candle on the 1m topic/,
    ],
    [
      'a candle whose low is above its open',
      'candles.1m',
      { low: 214.1 },
      '/open',
      /outside \[low 214.1, high 214.2\]/,
    ],
    [
      'a book whose bids are not best first',
      'market.orderbook',
      {
        bids: [
          [214.08, 1],
          [214.1, 1],
        ],
      },
      '/bids/1/0',
      /strictly descending/,
    ],
    ['a crossed book snapshot', 'market.orderbook', { asks: [[214.0, 100]] }, '/asks/0/0', /crossed book/],
    [
      'a sequence number as a JSON number',
      'market.orderbook',
      { sequence: Number('9007199254740993') },
      '/sequence',
      /expected string/,
    ],
    [
      'an option execution without its underlying',
      'trading.executions',
      { underlying: undefined },
      '/underlying',
      /required when the symbol is an option/,
    ],
    ['an alert without contributing events', 'cep.alerts', { events: [] }, '/events', /at least 1 items/],
    [
      'a transaction END whose counts disagree',
      'cdc.transactions',
      { event_count: 3 },
      '/event_count',
      /differs from the sum over data_collections \(2\)/,
    ],
    [
      'a delete change without the deleted row',
      'cdc.public.orders',
      { op: 'd', after: null },
      '/before',
      /carries the deleted key/,
    ],
    [
      'a change of another table on a table topic',
      'cdc.public.fills',
      {},
      '/source/table',
      /change of public.orders on the topic of public.fills/,
    ],
  ])('rejects %s, naming the field', (_what, topic, changes, path, message) => {
    const value: Record<string, unknown> = { ...(sampleEvent(topic) as Record<string, unknown>), ...changes };
    for (const [field, changed] of Object.entries(changes)) if (changed === undefined) delete value[field];
    if (topic === 'cdc.public.fills') (value['source'] as Record<string, unknown>)['table'] = 'orders';
    const errors = errorsOf(topic, value);
    expect(errors).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('says "required" for a missing field, once', () => {
    const { ts: _dropped, ...withoutTs } = sampleEvent('options.quotes');
    expect(errorsOf('options.quotes', withoutTs)).toEqual([{ path: '/ts', message: 'required' }]);
  });

  it('names a price beyond the double range (1e400 in the JSON) as too large, not as "got number null"', () => {
    const trade = JSON.parse(JSON.stringify(sampleEvent('market.trades')).replace(/"price":[0-9.e+-]+/, '"price":1e400')) as unknown;
    expect(errorsOf('market.trades', trade)).toEqual([
      { path: '/price', message: 'expected a finite number, got a number too large to represent (beyond ±1.8e308)' },
    ]);
  });

  it('names nested fields by their JSON Pointer', () => {
    const chain = sampleEvent('options.chains');
    chain.contracts[1] = {
      ...chain.contracts[1],
      strike: -5,
      greeks: { delta: 2, gamma: 0, theta: 0, vega: 0, rho: 0 },
    };
    const errors = errorsOf('options.chains', chain);
    expect(errors).toContainEqual({ path: '/contracts/1/strike', message: 'expected number > 0, got -5' });
    expect(errors).toContainEqual({
      path: '/contracts/1/greeks/delta',
      message: 'expected number <= 1, got 2',
    });
  });

  it('reports every broken field of a record, not just the first', () => {
    const errors = errorsOf('market.quotes', {
      ...sampleEvent('market.quotes'),
      bidPrice: -1,
      askSize: -2,
      tape: 'Z',
    });
    expect(errors.map((error) => error.path).sort()).toEqual(['/askSize', '/bidPrice', '/tape']);
  });

  it('refuses something that is not an object', () => {
    expect(errorsOf('market.quotes', 'AAPL')).toEqual([
      { path: '', message: 'expected object, got string "AAPL"' },
    ]);
    expect(errorsOf('market.quotes', null)).toEqual([
      { path: '', message: 'expected object, got null null' },
    ]);
  });

  it('answers an unknown topic with an error instead of throwing', () => {
    expect(validateEvent('market.ticks', {})).toEqual({
      ok: false,
      errors: [{ path: '', message: 'unknown topic "market.ticks"' }],
    });
  });

  it('allows a configurable clock skew for event times slightly ahead of the local clock', () => {
    const aheadBy30s = { ...sampleEvent('market.quotes'), ts: '1742567490000000000' };
    expect(validateEvent('market.quotes', aheadBy30s, { nowMs: Date.UTC(2025, 2, 21, 14, 30, 0) }).ok).toBe(
      true,
    );
    expect(
      validateEvent('market.quotes', aheadBy30s, {
        nowMs: Date.UTC(2025, 2, 21, 14, 30, 0),
        maxFutureSkewMs: 10_000,
      }).ok,
    ).toBe(false);
  });

  it('accepts fields a newer schema version added only when asked to', () => {
    const newer = { ...sampleEvent('market.trades'), venueTimestamp: '1742567400123000000' };
    expect(validateEvent('market.trades', newer, at).ok).toBe(false);
    expect(validateEvent('market.trades', newer, { ...at, allowUnknownFields: true }).ok).toBe(true);
  });

  it('validates against a spec directly, e.g. a change topic with a composite primary key', () => {
    const spec = changeEventTopic('cdc', 'public', 'positions', ['account', 'symbol']);
    const change = sampleEvent('cdc.public.positions');
    expect(validateEvent(spec, change, at).ok).toBe(true);
    expect(spec.key(change as never)).toBe('{"account":"ACC-001","symbol":"AAPL250417C00215000"}');
  });

  it('compiles each schema once and reuses the checker', () => {
    expect(compiledCheck(OptionQuote.schema)).toBe(compiledCheck(OptionQuote.schema));
    expect(compiledCheck(OptionQuote.schema, true)).not.toBe(compiledCheck(OptionQuote.schema));
  });
});

describe('decodeEvent', () => {
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('parses and validates record bytes, returning the typed value', () => {
    const quote = decodeEvent('options.quotes', bytes(sampleEvent('options.quotes')), at);
    expect(quote.right).toBe('call');
    expect(quote.ts).toBe('1742567400123456789');
  });

  it('throws a ValidationError carrying the field errors', () => {
    const bad = bytes({ ...sampleEvent('options.quotes'), bidPrice: -1 });
    expect(() => decodeEvent('options.quotes', bad, at)).toThrow(ValidationError);
    try {
      decodeEvent('options.quotes', bad, at);
    } catch (error) {
      expect((error as ValidationError).errors).toEqual([
        { path: '/bidPrice', message: 'expected number >= 0, got -1' },
      ]);
      expect((error as ValidationError).message).toBe(
        'invalid options.quotes record: /bidPrice: expected number >= 0, got -1',
      );
      expect((error as ValidationError).topic).toBe('options.quotes');
    }
  });

  it('rejects bytes that are not JSON or not UTF-8, and tombstones', () => {
    expect(() => decodeEvent('market.quotes', Buffer.from('{"symbol":'), at)).toThrow(/not JSON/);
    expect(() => decodeEvent('market.quotes', Buffer.from([0x7b, 0xff, 0x7d]), at)).toThrow(/not JSON/);
    expect(() => decodeEvent('market.quotes', null, at)).toThrow(/tombstone/);
  });

  it('reads a record of a newer schema version, ignoring the fields it added', () => {
    const newer = bytes({ ...sampleEvent('market.trades'), venueTimestamp: '1742567400123000000' });
    expect(() => decodeEvent('market.trades', newer, at)).toThrow(/unknown field/);
    expect(decodeEvent('market.trades', newer, { ...at, schemaVersion: '2' }).symbol).toBe('AAPL');
    expect(() => decodeEvent('market.trades', newer, { ...at, schemaVersion: '1' })).toThrow(/unknown field/);
  });
});

describe('formatFieldErrors', () => {
  it('joins errors into one line for logs and the dlq.reason header', () => {
    expect(
      formatFieldErrors([
        { path: '/bidPrice', message: 'expected number >= 0, got -1' },
        { path: '/ts', message: 'required' },
      ]),
    ).toBe('/bidPrice: expected number >= 0, got -1; /ts: required');
  });
});
