import { compatibilityPartitioner } from '@platformatic/kafka';
import { KeyPartitioner, murmur2, partitionOfKey } from './partitioner';

describe('key partitioning as Kafka’s Java producer does it', () => {
  it('murmur2 gives the values of Kafka’s own Utils test', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from('abc'))).toBe(479470107);
  });

  it('places every key in the partition another Java-compatible implementation picks, for keys of every tail length and in UTF-8', () => {
    const keys = [
      ...Array.from({ length: 2_000 }, (_, i) => `SYM${i.toString(36).toUpperCase()}`),
      ...Array.from({ length: 64 }, (_, i) => 'x'.repeat(i)),
      'ÄÖÜ',
      '株式',
      'SPY 261218C00600000',
    ];
    for (const partitions of [1, 3, 6, 12, 64]) {
      const misplaced = keys.filter(
        (key) =>
          partitionOfKey(key, partitions) !==
          compatibilityPartitioner({} as never, Buffer.from(key)) % partitions,
      );
      expect(misplaced).toEqual([]);
    }
  });

  it('a key partitioner remembers its answers and starts over past its bound', () => {
    const partitioner = new KeyPartitioner(6, 2);
    expect(['AAPL', 'MSFT', 'SPY', 'AAPL'].map((key) => partitioner.partitionOf(key))).toEqual(
      ['AAPL', 'MSFT', 'SPY', 'AAPL'].map((key) => partitionOfKey(key, 6)),
    );
    expect(() => new KeyPartitioner(0)).toThrow(/positive integer/);
  });
});
