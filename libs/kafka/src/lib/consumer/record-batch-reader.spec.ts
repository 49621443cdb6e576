import { createRecordsBatch } from '@platformatic/kafka';
import { CorruptRecordBatchError, readRecordBatches } from './record-batch-reader';

interface Written {
  key: string | null;
  value: string | null;
  timestamp: bigint;
  headers: [string, string][];
}

/** A batch written by @platformatic/kafka's encoder (written apart from our reader), at `baseOffset`. */
function batch(records: Written[], compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd' = 'none', baseOffset = 0n): Buffer {
  const bytes = Buffer.from(
    createRecordsBatch(
      records.map((record) => ({
        topic: 't',
        partition: 0,
        key: record.key === null ? undefined : Buffer.from(record.key),
        value: record.value === null ? undefined : Buffer.from(record.value),
        timestamp: record.timestamp,
        headers: new Map(record.headers.map(([name, value]) => [Buffer.from(name), Buffer.from(value)])),
      })) as never,
      { compression, producerId: 9n, producerEpoch: 0, sequences: { getWithDefault: () => 0 } } as never,
    ).buffer,
  );
  bytes.writeBigInt64BE(baseOffset, 0); // as the broker sets it
  return bytes;
}

const records: Written[] = [
  { key: 'AAPL', value: '{"price":1}', timestamp: 1_767_225_600_000n, headers: [['schema.version', '1'], ['trace', 'a'], ['trace', 'b']] },
  { key: null, value: '{"price":2}', timestamp: 1_767_225_600_250n, headers: [] },
  { key: 'MSFT', value: null, timestamp: 1_767_225_599_000n, headers: [['schema.version', '2']] },
];

describe('reading fetched record batches', () => {
  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)('gives back every field an independent encoder wrote (%s)', (compression) => {
    const [view] = readRecordBatches(batch(records, compression, 1000n));
    expect(view.baseOffset).toBe(1000n);
    expect(view.recordCount).toBe(3);
    expect(view.producerId).toBe(9n);
    const read = view.records().map((record) => ({
      offset: record.offset,
      key: record.key?.toString() ?? null,
      value: record.value?.toString() ?? null,
      text: record.valueText(),
      timestamp: record.timestamp,
      headers: record.headers.map(([name, value]) => [name?.toString(), value?.toString()]),
    }));
    expect(read).toEqual(
      records.map((record, index) => ({
        offset: 1000n + BigInt(index),
        key: record.key,
        value: record.value,
        text: record.value,
        timestamp: record.timestamp,
        headers: record.headers,
      })),
    );
  });

  it('finds one header by its bytes without decoding the others; a repeated header reads as its last value', () => {
    const [first, second, third] = readRecordBatches(batch(records))[0].records();
    expect(first.header(Buffer.from('trace'))).toBe('b');
    expect(first.header(Buffer.from('schema.version'))).toBe('1');
    expect(first.header(Buffer.from('absent'))).toBeUndefined();
    expect(second.header(Buffer.from('trace'))).toBeUndefined();
    expect(third.header(Buffer.from('schema.version'))).toBe('2');
  });

  it('reads consecutive batches, and leaves out a last batch the answer cut short', () => {
    const whole = Buffer.concat([batch(records.slice(0, 2), 'none', 0n), batch(records.slice(2), 'none', 2n)]);
    expect(readRecordBatches(whole).map((view) => view.baseOffset)).toEqual([0n, 2n]);
    expect(readRecordBatches(whole.subarray(0, whole.length - 5)).map((view) => view.baseOffset)).toEqual([0n]);
  });

  it('refuses a batch whose bytes do not match its CRC', () => {
    const bytes = batch(records);
    bytes[bytes.length - 3] ^= 0xff;
    expect(() => readRecordBatches(bytes)).toThrow(CorruptRecordBatchError);
  });
});
