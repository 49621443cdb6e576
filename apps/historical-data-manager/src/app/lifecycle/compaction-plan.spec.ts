import { type CompactionCandidate, planCompactions } from './compaction-plan';

let next = 0n;
function file(overrides: Partial<CompactionCandidate> = {}): CompactionCandidate {
  const first = next;
  next += 100n;
  return {
    key: `k${first}`,
    bytes: 1000,
    rows: 100,
    partitionDate: '2026-01-01',
    partitionHour: 10,
    sourceTopic: 'market.trades',
    sourcePartition: 0,
    schemaVersion: 1,
    firstOffset: first,
    lastOffset: first + 99n,
    minEventTimeNs: 0n,
    maxEventTimeNs: 1n,
    symbols: ['SPY'],
    ...overrides,
  };
}

describe('compaction plan', () => {
  const limits = { targetBytes: 3500, minFiles: 2 };

  it('small files of one source partition in one hour are merged in offset order, up to the target size', () => {
    const files = [file(), file(), file(), file(), file()];
    const plans = planCompactions('market_trades', [...files].reverse(), limits);
    expect(plans.map((p) => p.inputs.map((f) => f.key))).toEqual([
      files.slice(0, 3).map((f) => f.key),
      files.slice(3).map((f) => f.key),
    ]);
  });

  it('never merges across hours, source partitions or schema versions', () => {
    const plans = planCompactions(
      'market_trades',
      [file(), file({ partitionHour: 11 }), file({ sourcePartition: 1 }), file({ schemaVersion: 2 }), file()],
      limits,
    );
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({ partitionHour: 10, sourcePartition: 0, schemaVersion: 1 });
    expect(plans[0]?.inputs).toHaveLength(2);
  });

  it('leaves alone files at the target size and groups with fewer files than the minimum', () => {
    expect(planCompactions('d', [file({ bytes: 3500 }), file()], limits)).toEqual([]);
    expect(planCompactions('d', [file(), file(), file()], { targetBytes: 10_000, minFiles: 4 })).toEqual([]);
  });
});
