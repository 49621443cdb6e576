import { createRecordsBatch, crc32c, readRecordsBatch, Reader } from '@platformatic/kafka';
import { HeaderTemplate, RecordBatchWriter, varintSize } from './record-batch';

const PRODUCER = { producerId: 4711n, producerEpoch: 3, baseSequence: 120 };

interface Plain {
  key: string | null;
  value: string | null;
  timestamp: number;
  headers: [string, string][];
}

/** A batch read back by @platformatic/kafka's reader (an encoder and decoder written apart from ours). */
function decode(batch: Buffer) {
  const read = readRecordsBatch(Reader.from(batch));
  return {
    ...read,
    records: read.records.map((record): Plain => ({
      key: record.key === null ? null : record.key.toString(),
      value: record.value === null ? null : record.value.toString(),
      timestamp: Number(read.firstTimestamp + record.timestampDelta),
      headers: record.headers.map(([name, value]) => [name?.toString() ?? '', value?.toString() ?? '']),
    })),
  };
}

const template = new HeaderTemplate(
  { 'schema.name': 'UnderlyingQuote', 'schema.version': '1', producer: 'svc/pod-1' },
  ['event.time', 'correlation.id', 'idempotency.key'],
);

describe('record batches written in place', () => {
  it('CRC-32C is Castagnoli (the check value of "123456789" is 0xE3069283)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('writes the same bytes as an independent encoder for the same records, CRC included', () => {
    const records = [
      { key: 'AAPL', value: '{"p":1}', timestamp: 1_767_225_600_000, headers: { a: 'x', b: 'yy' } },
      {
        key: 'MSFT',
        value: '{"p":2,"note":"é ü 株"}',
        timestamp: 1_767_225_600_007,
        headers: { a: 'x', b: 'yy' },
      },
      { key: 'SPY', value: 'v'.repeat(300), timestamp: 1_767_225_599_990, headers: { a: 'x', b: 'yy' } },
    ];
    const writer = new RecordBatchWriter(256);
    const headers = new HeaderTemplate({ a: 'x', b: 'yy' });
    for (const record of records) writer.append(record.key, record.value, record.timestamp, headers);
    const ours = writer.finish(PRODUCER);

    const sequences = { getWithDefault: () => PRODUCER.baseSequence };
    const theirs = createRecordsBatch(
      records.map((record) => ({
        topic: 't',
        partition: 0,
        key: Buffer.from(record.key),
        value: Buffer.from(record.value),
        timestamp: BigInt(record.timestamp),
        headers: new Map(
          Object.entries(record.headers).map(([name, value]) => [Buffer.from(name), Buffer.from(value)]),
        ),
      })),
      { producerId: PRODUCER.producerId, producerEpoch: PRODUCER.producerEpoch, sequences } as never,
    ).buffer;
    expect(ours.length).toBe(theirs.length);
    // From the CRC on; the partition leader epoch before it is -1 (the Java producer's "unknown") in ours.
    expect(ours.subarray(17).equals(theirs.subarray(17))).toBe(true);
    expect(ours.readInt32BE(12)).toBe(-1);
  });

  it('keys, values, timestamps, header templates and varying headers read back as written; an undefined varying header is left out', () => {
    const writer = new RecordBatchWriter();
    writer.append('AAPL', '{"a":1}', 1_000, template, ['1000000123', 'corr-1', 'key-1']);
    writer.append(null, '{"a":2}', 999, template, ['999000000', 'corr-1', undefined]);
    writer.append(Buffer.from('QQQ'), null, 1_005);
    const batch = decode(writer.finish(PRODUCER));
    expect(batch).toMatchObject({
      magic: 2,
      firstSequence: 120,
      producerId: 4711n,
      producerEpoch: 3,
      lastOffsetDelta: 2,
      firstTimestamp: 1_000n,
      maxTimestamp: 1_005n,
      attributes: 0,
    });
    const constant: [string, string][] = [
      ['schema.name', 'UnderlyingQuote'],
      ['schema.version', '1'],
      ['producer', 'svc/pod-1'],
    ];
    expect(batch.records).toEqual([
      {
        key: 'AAPL',
        value: '{"a":1}',
        timestamp: 1_000,
        headers: [
          ...constant,
          ['event.time', '1000000123'],
          ['correlation.id', 'corr-1'],
          ['idempotency.key', 'key-1'],
        ],
      },
      {
        key: null,
        value: '{"a":2}',
        timestamp: 999,
        headers: [...constant, ['event.time', '999000000'], ['correlation.id', 'corr-1']],
      },
      { key: 'QQQ', value: null, timestamp: 1_005, headers: [] },
    ]);
  });

  it("a record's own headers follow the template's, string or bytes, repeated names kept", () => {
    const writer = new RecordBatchWriter();
    writer.append('AAPL', '{}', 1_000, template, ['1000', 'corr-2', undefined], [
      ['dlq.reason', 'schema: é'],
      ['dlq.original.key', Buffer.from([0, 255, 7])],
      ['dlq.reason', ''],
    ]);
    writer.append('MSFT', '{}', 1_001, undefined, undefined, [['only', 'one']]);
    const [first, second] = decode(writer.finish(PRODUCER)).records;
    expect(first?.headers.slice(3)).toEqual([
      ['event.time', '1000'],
      ['correlation.id', 'corr-2'],
      ['dlq.reason', 'schema: é'],
      ['dlq.original.key', Buffer.from([0, 255, 7]).toString()],
      ['dlq.reason', ''],
    ]);
    expect(second?.headers).toEqual([['only', 'one']]);
  });

  it('lengths across the varint boundaries (63/64, 8191/8192 bytes) and a buffer that has to grow', () => {
    const writer = new RecordBatchWriter(256);
    const sizes = [0, 63, 64, 8191, 8192, 100_000];
    for (const size of sizes)
      writer.append('k', 'x'.repeat(size), 1, template, ['e'.repeat(size % 200), undefined, 'i']);
    const batch = decode(writer.finish(PRODUCER));
    expect(batch.records.map((record) => record.value?.length ?? -1)).toEqual(sizes);
    expect(batch.records.map((record) => record.headers[3])).toEqual(
      sizes.map((size) => ['event.time', 'e'.repeat(size % 200)]),
    );
    expect([63, 64, 8191, 8192].map((n) => varintSize(n * 2))).toEqual([1, 2, 2, 3]);
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)(
    'a %s batch compresses the records and reads back whole',
    (compression) => {
      const writer = new RecordBatchWriter();
      for (let i = 0; i < 500; i++)
        writer.append(
          `S${i % 7}`,
          JSON.stringify({ i, symbol: `S${i % 7}`, price: 100 + i / 100 }),
          1_000 + i,
          template,
          [String(i), 'c', `k${i}`],
        );
      const raw = writer.size;
      const encoded = writer.finish({ ...PRODUCER, compression });
      expect(encoded.length).toBeLessThan(raw);
      expect(crc32c(encoded.subarray(21))).toBe(encoded.readUInt32BE(17));
      const batch = decode(encoded);
      expect(batch.attributes & 0b111).toBe({ gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[compression]);
      expect(batch.records).toHaveLength(500);
      expect(JSON.parse(batch.records[499]?.value ?? '')).toEqual({ i: 499, symbol: 'S2', price: 104.99 });
    },
  );

  it('marks transactional batches, and a reset writer starts a new batch with offset delta 0', () => {
    const writer = new RecordBatchWriter();
    writer.append('a', '1', 5);
    writer.finish(PRODUCER);
    writer.reset();
    writer.append('b', '2', 9);
    const batch = decode(writer.finish({ ...PRODUCER, transactional: true }));
    expect(batch.attributes & 0x10).toBe(0x10);
    expect(batch.records).toEqual([{ key: 'b', value: '2', timestamp: 9, headers: [] }]);
    expect(() => {
      writer.reset();
      writer.finish(PRODUCER);
    }).toThrow(/at least one record/);
  });
});
