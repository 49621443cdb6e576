import { UnreadableBodyError } from '../ingestion/event-batch';
import { keyFilterOf, readProducerFrame } from './socket-frames';

const frame = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('WebSocket producer frames', () => {
  it('reads a batch frame with the client id and per-event idempotency keys', () => {
    const read = readProducerFrame(frame({ id: 'm-7', events: [{ symbol: 'SPY' }, { value: { symbol: 'QQQ' }, idempotencyKey: 'k-1' }] }), 7);
    expect(read.id).toBe('m-7');
    expect(read.events).toEqual([
      { index: 0, value: { symbol: 'SPY' } },
      { index: 1, value: { symbol: 'QQQ' }, idempotencyKey: 'k-1' },
    ]);
  });

  it('reads a bare event or array like an HTTP body, acknowledged by the sequence number', () => {
    expect(readProducerFrame(frame({ symbol: 'SPY' }), 3)).toEqual({ id: 3, events: [{ index: 0, value: { symbol: 'SPY' } }] });
    expect(readProducerFrame(frame([{ symbol: 'SPY' }, { symbol: 'IWM' }]), 4).events).toHaveLength(2);
  });

  it.each([
    ['not json', 'the frame is not JSON'],
    [{ id: 'x', events: [] }, 'events must be a non-empty array'],
    [{ id: '', events: [{}] }, 'id must be a number or a string'],
    [{ id: { nested: true }, events: [{}] }, 'id must be a number or a string'],
  ])('refuses %j naming what is wrong', (value, message) => {
    expect(() => readProducerFrame(frame(value), 1)).toThrow(UnreadableBodyError);
    expect(() => readProducerFrame(frame(value), 1)).toThrow(message);
  });

  it('marks an envelope with a bad idempotency key as unreadable, the rest of the frame kept', () => {
    const read = readProducerFrame(frame({ events: [{ value: { symbol: 'SPY' }, idempotencyKey: '' }, { symbol: 'QQQ' }] }), 1);
    expect(read.events[0].unreadable).toContain('idempotencyKey');
    expect(read.events[1].unreadable).toBeUndefined();
  });
});

describe('live key filter', () => {
  it('passes only the listed keys, and everything without a filter', () => {
    const accepts = keyFilterOf('SPY, QQQ');
    expect(accepts?.('SPY')).toBe(true);
    expect(accepts?.('QQQ')).toBe(true);
    expect(accepts?.('IWM')).toBe(false);
    expect(accepts?.(null)).toBe(false);
    expect(keyFilterOf(undefined)).toBeUndefined();
    expect(keyFilterOf(' ')).toBeUndefined();
  });
});
