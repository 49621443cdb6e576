import { readEventBatch, UnreadableBodyError } from './event-batch';

const body = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('request bodies of POST /v1/streams/:stream/events', () => {
  it('one JSON object is one event, keyed by the Idempotency-Key header', () => {
    expect(readEventBatch(body({ symbol: 'AAPL' }), 'application/json', 'quote-1')).toEqual([
      { index: 0, value: { symbol: 'AAPL' }, idempotencyKey: 'quote-1' },
    ]);
  });

  it('a JSON array is many events; an envelope item carries its own idempotency key', () => {
    expect(readEventBatch(body([{ symbol: 'AAPL' }, { value: { symbol: 'MSFT' }, idempotencyKey: 'q-2' }]), 'application/json; charset=utf-8')).toEqual([
      { index: 0, value: { symbol: 'AAPL' } },
      { index: 1, value: { symbol: 'MSFT' }, idempotencyKey: 'q-2' },
    ]);
  });

  it('NDJSON is one event per line; blank lines are skipped and a line that is not JSON spoils only itself', () => {
    const events = readEventBatch(body('{"symbol":"AAPL"}\n\nnot json\n{"symbol":"MSFT"}\n'), 'application/x-ndjson');
    expect(events.map((event) => [event.index, event.unreadable === undefined])).toEqual([
      [0, true],
      [1, false],
      [2, true],
    ]);
    expect(events[1].unreadable).toMatch(/^line 2 is not JSON/);
  });

  it('refuses a body that is not JSON, an empty batch, another content type and a header key on a batch', () => {
    expect(() => readEventBatch(body('{"symbol":'), 'application/json')).toThrow(UnreadableBodyError);
    expect(() => readEventBatch(body([]), 'application/json')).toThrow('the body holds no event');
    expect(() => readEventBatch(body('symbol=AAPL'), 'text/plain')).toThrow(/unsupported content type text\/plain/);
    expect(() => readEventBatch(body([{}]), 'application/json', 'k')).toThrow(/Idempotency-Key applies to a single event/);
  });

  it('marks an envelope whose idempotency key is not a non-empty string as unreadable', () => {
    expect(readEventBatch(body([{ value: {}, idempotencyKey: '' }]), 'application/json')[0].unreadable).toBe(
      'idempotencyKey must be a non-empty string',
    );
  });
});
