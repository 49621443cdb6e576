import { archiveObjectKey, datasetOfTopic, hourPartitionOf, partitionPrefix } from './archive-layout';

describe('archive layout', () => {
  it('puts a record in the UTC hour of its event time, to the nanosecond', () => {
    expect(hourPartitionOf(1_767_225_599_999_999_999n)).toEqual({ date: '2025-12-31', hour: 23 });
    expect(hourPartitionOf(1_767_225_600_000_000_000n)).toEqual({ date: '2026-01-01', hour: 0 });
  });

  it('uses Hive-style date= and hour= folders below the dataset', () => {
    expect(partitionPrefix('market_trades', { date: '2026-01-01', hour: 7 })).toBe('market_trades/date=2026-01-01/hour=07/');
  });

  it('names an object from its topic, partition and offsets, so a retry of the same offsets writes the same key', () => {
    const key = () => archiveObjectKey('market_trades', { date: '2026-01-01', hour: 7 }, 'market.trades', 3, 10n, 2n ** 60n);
    expect(key()).toBe(
      'market_trades/date=2026-01-01/hour=07/market.trades+3+00000000000000000010+01152921504606846976.parquet',
    );
    expect(key()).toBe(key());
  });

  it('names the objects of a later epoch apart, so offsets counted again from 0 never overwrite an earlier epoch', () => {
    const partition = { date: '2026-01-01', hour: 7 };
    const first = archiveObjectKey('market_trades', partition, 'market.trades', 3, 0n, 9n);
    const second = archiveObjectKey('market_trades', partition, 'market.trades', 3, 0n, 9n, 2);
    expect(first).toBe('market_trades/date=2026-01-01/hour=07/market.trades+3+00000000000000000000+00000000000000000009.parquet');
    expect(second).toBe('market_trades/date=2026-01-01/hour=07/market.trades+3+00000000000000000000+00000000000000000009.e2.parquet');
  });

  it('derives a dataset name usable as a table name from the topic', () => {
    expect(datasetOfTopic('options.quotes')).toBe('options_quotes');
  });
});
