import { DLQ_HEADERS } from '@tributary/contracts';
import type { FetchedRecord } from '@tributary/kafka';
import { deadLetterTopicOf, DlqRequestError, dlqRecordOf, parseReplaySelection, REPLAY_HEADERS, replayHeaders, selects } from './dlq-records';

function message(fields: { value?: Buffer | null; headers?: Record<string, Buffer> }): FetchedRecord {
  return {
    key: Buffer.from('SPY'),
    value: fields.value === undefined ? Buffer.from('{"symbol":"SPY"}') : fields.value,
    timestamp: 1742567400123n,
    offset: 7n,
    headers: Object.entries(fields.headers ?? {}).map(([name, value]) => [Buffer.from(name), value] as const),
  };
}

const failureHeaders = {
  'idempotency.key': Buffer.from('feed-1:42'),
  [DLQ_HEADERS.reason]: Buffer.from('/price: must be > 0'),
  [DLQ_HEADERS.errorType]: Buffer.from('ValidationError'),
  [DLQ_HEADERS.originalTopic]: Buffer.from('market.trades'),
  [DLQ_HEADERS.originalPartition]: Buffer.from('3'),
  [DLQ_HEADERS.originalOffset]: Buffer.from('9007199254740993'),
  [DLQ_HEADERS.attempts]: Buffer.from('0'),
  [DLQ_HEADERS.consumerGroup]: Buffer.from('tributary-cep-engine'),
  [DLQ_HEADERS.failedAt]: Buffer.from('2025-03-21T14:30:00.123Z'),
};

describe('dead-letter records as the inspection API shows them', () => {
  it('names the DLQ of a catalog topic given either its own name or the DLQ name, and refuses others', () => {
    expect(deadLetterTopicOf('market.trades')).toEqual({ topic: 'market.trades', dlqTopic: 'market.trades.dlq' });
    expect(deadLetterTopicOf('market.trades.dlq')).toEqual({ topic: 'market.trades', dlqTopic: 'market.trades.dlq' });
    expect(deadLetterTopicOf('cdc.trading.orders')).toEqual({ topic: 'cdc.trading.orders', dlqTopic: 'cdc.trading.orders.dlq' });
    expect(deadLetterTopicOf('no.such.topic')).toBeUndefined();
    expect(deadLetterTopicOf('market.trades.dlq.dlq')).toBeUndefined();
  });

  it('shows the reason, the origin with its 64-bit offset exact, and the original headers', () => {
    const record = dlqRecordOf('market.trades.dlq', 0, message({ headers: failureHeaders }));
    expect(record).toMatchObject({
      originalTopic: 'market.trades',
      partition: 3,
      offset: '9007199254740993',
      key: 'SPY',
      value: '{"symbol":"SPY"}',
      encoding: 'utf8',
      reason: '/price: must be > 0',
      errorType: 'ValidationError',
      attempts: 0,
      consumerGroup: 'tributary-cep-engine',
      failedAt: '2025-03-21T14:30:00.123Z',
      dlqPartition: 0,
      dlqOffset: '7',
    });
    expect(record.headers['idempotency.key']).toBe('feed-1:42');
  });

  it('shows bytes that are not UTF-8 as base64, so what is shown decodes to exactly what failed', () => {
    const bytes = Buffer.from([0xff, 0x00, 0xc3, 0x28]);
    const record = dlqRecordOf('market.trades.dlq', 0, message({ value: bytes, headers: failureHeaders }));
    expect(record.encoding).toBe('base64');
    expect(Buffer.from(record.value ?? '', 'base64').equals(bytes)).toBe(true);
  });

  it('keeps a tombstone a tombstone', () => {
    const record = dlqRecordOf('market.trades.dlq', 0, message({ value: null, headers: failureHeaders }));
    expect(record).toMatchObject({ value: null, encoding: 'utf8' });
  });

  it('replays with the original headers only, the idempotency key kept, and says where from', () => {
    const headers = replayHeaders(failureHeaders, { dlqTopic: 'market.trades.dlq', partition: 0, offset: '7' }, new Date('2025-03-22T08:00:00Z'));
    expect(Object.keys(headers).filter((name) => name.startsWith('dlq.') && !name.startsWith('dlq.replayed'))).toEqual([]);
    expect(headers['idempotency.key']).toEqual(Buffer.from('feed-1:42'));
    expect(headers[REPLAY_HEADERS.replayedFrom]).toBe('market.trades.dlq/0/7');
    expect(headers[REPLAY_HEADERS.replayedAt]).toBe('2025-03-22T08:00:00.000Z');
  });
});

describe('replay selection', () => {
  it('takes a list of offsets, de-duplicated and in order, as 64-bit values', () => {
    const selection = parseReplaySelection({ offsets: ['15', 12, '15', '9223372036854775806'] });
    expect(selection.offsets).toEqual([12n, 15n, 9223372036854775806n]);
    expect(selects(selection, 12n)).toBe(true);
    expect(selects(selection, 13n)).toBe(false);
  });

  it('takes a half-open range of one partition', () => {
    const selection = parseReplaySelection({ partition: 0, fromOffset: '10', toOffset: '20' });
    expect(selects(selection, 10n)).toBe(true);
    expect(selects(selection, 19n)).toBe(true);
    expect(selects(selection, 20n)).toBe(false);
  });

  it.each([
    [[], 'the body must be a JSON object'],
    [{}, 'give either offsets or fromOffset/toOffset'],
    [{ offsets: ['1'], fromOffset: '0' }, 'give either offsets or fromOffset/toOffset'],
    [{ offsets: [] }, 'offsets must be a non-empty array'],
    [{ offsets: ['-1'] }, 'offsets[0] must be a non-negative integer offset'],
    [{ fromOffset: '5', toOffset: '5' }, 'toOffset must be greater than fromOffset'],
    [{ fromOffset: '0', toOffset: '20000' }, 'at most 10000 records per replay'],
    [{ partition: -1, offsets: ['1'] }, 'partition must be a non-negative integer'],
    [{ offset: '1' }, 'unknown field offset'],
  ])('refuses %j naming what is wrong', (body, message) => {
    expect(() => parseReplaySelection(body)).toThrow(DlqRequestError);
    expect(() => parseReplaySelection(body)).toThrow(message);
  });
});
