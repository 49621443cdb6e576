import { checkTopicIdentity, type LogRange } from './topic-identity-check';

const stored = { clusterId: 'cluster-A', topicId: 'topic-1' };
const current = { clusterId: 'cluster-A', topicId: 'topic-1' };
const logs = (...ranges: [number, number][]): LogRange[] =>
  ranges.map(([low, high], partition) => ({ partition, low: BigInt(low), high: BigInt(high) }));
const positions = (...next: number[]) => new Map(next.map((n, partition) => [partition, BigInt(n)]));

describe('checkTopicIdentity', () => {
  it('refuses offsets archived from another cluster, whatever the offsets say', () => {
    const verdict = checkTopicIdentity(
      'market.trades',
      stored,
      { clusterId: 'cluster-B', topicId: 'topic-9' },
      positions(10),
      logs([0, 100]),
    );
    expect(verdict).toMatchObject({ verdict: 'mismatch', mismatch: { kind: 'cluster-changed' } });
    if (verdict.verdict === 'mismatch') expect(verdict.mismatch.reason).toContain('cluster-A');
  });

  it('refuses a topic deleted and created again (new topic ID), naming both IDs', () => {
    const verdict = checkTopicIdentity(
      'market.trades',
      stored,
      { clusterId: 'cluster-A', topicId: 'topic-2' },
      positions(10),
      logs([0, 100]),
    );
    expect(verdict).toMatchObject({ verdict: 'mismatch', mismatch: { kind: 'topic-recreated' } });
    if (verdict.verdict === 'mismatch') expect(verdict.mismatch.reason).toMatch(/topic-1.*topic-2/);
  });

  it('refuses positions beyond the end of the log, even with the same identity (a truncated or restored log)', () => {
    const verdict = checkTopicIdentity(
      'market.trades',
      stored,
      current,
      positions(50, 7210),
      logs([0, 60], [0, 100]),
    );
    expect(verdict).toMatchObject({
      verdict: 'mismatch',
      mismatch: {
        kind: 'ahead-of-log-end',
        partitions: [{ partition: 1, archivedUpTo: '7210', logStart: '0', logEnd: '100' }],
      },
    });
  });

  it('takes a position before the start of the log as retention when the identity is known, and reports the gap', () => {
    expect(checkTopicIdentity('market.trades', stored, current, positions(5), logs([40, 90]))).toEqual({
      verdict: 'consistent',
      adopt: false,
      retentionGaps: [{ partition: 0, from: 5n, to: 40n }],
    });
  });

  it('adopts the identity for a catalog without one when every position lies within its log (no false alarm on upgrade)', () => {
    expect(
      checkTopicIdentity('market.trades', null, current, positions(0, 100), logs([0, 10], [20, 100])),
    ).toEqual({
      verdict: 'consistent',
      adopt: true,
      retentionGaps: [],
    });
  });

  it('asks for a decision for a catalog without identity whose positions lie outside the log', () => {
    expect(checkTopicIdentity('market.trades', null, current, positions(7210), logs([0, 300]))).toMatchObject(
      {
        verdict: 'mismatch',
        mismatch: { kind: 'ahead-of-log-end' },
      },
    );
    expect(checkTopicIdentity('market.trades', null, current, positions(5), logs([40, 90]))).toMatchObject({
      verdict: 'mismatch',
      mismatch: { kind: 'behind-log-start' },
    });
  });

  it('refuses a stored partition the topic does not have, and a topic the cluster does not hold', () => {
    expect(checkTopicIdentity('market.trades', stored, current, positions(1, 1), logs([0, 5]))).toMatchObject(
      {
        verdict: 'mismatch',
        mismatch: { kind: 'partition-missing' },
      },
    );
    expect(
      checkTopicIdentity(
        'market.trades',
        stored,
        { clusterId: 'cluster-A', topicId: null },
        positions(1),
        null,
      ),
    ).toMatchObject({
      verdict: 'mismatch',
      mismatch: { kind: 'topic-missing' },
    });
  });
});
