import { type LedgerOffset, OffsetLedger, type RevokedPartitions } from './offset-ledger';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function range(first: number, last: number) {
  return { firstOffset: BigInt(first), lastOffset: BigInt(last), next: BigInt(last + 1), records: last - first + 1 };
}

describe('OffsetLedger', () => {
  let commits: LedgerOffset[][];
  let rewinds: { topic: string; partition: number; from: bigint; attempt: number }[];
  let revoked: RevokedPartitions[][];
  let ledger: OffsetLedger;

  beforeEach(() => {
    commits = [];
    rewinds = [];
    revoked = [];
    ledger = new OffsetLedger({
      commit: async (offsets) => void commits.push([...offsets]),
      rewind: (topic, partition, from, attempt) => rewinds.push({ topic, partition, from, attempt }),
      revoked: (partitions) => revoked.push(partitions),
    });
  });

  it('commits a partition only up to its oldest range not yet durable, however the promises settle', async () => {
    const first = deferred();
    const second = deferred();
    ledger.add('t', 0, range(0, 9), [first.promise]);
    ledger.add('t', 0, range(10, 19), [second.promise]);
    second.resolve();
    await turn();
    await turn();
    expect(commits).toEqual([]);
    first.resolve();
    await turn();
    await turn();
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: 20n }]]);
    expect(ledger.pending).toBe(0);
  });

  it('ranges durable in the same turn go out as one commit request for every partition', async () => {
    ledger.add('t', 0, range(0, 4), [Promise.resolve()]);
    ledger.add('t', 1, range(7, 8), [Promise.resolve()]);
    await turn();
    await turn();
    expect(commits).toEqual([
      [
        { topic: 't', partition: 0, offset: 5n },
        { topic: 't', partition: 1, offset: 9n },
      ],
    ]);
  });

  it('a range that cannot be made durable rewinds the partition to its first uncommitted record and reports it revoked', async () => {
    const first = deferred();
    const second = deferred();
    ledger.add('t', 3, range(100, 109), [first.promise]);
    ledger.add('t', 3, range(110, 119), [second.promise]);
    second.reject(new Error('S3 refused the upload'));
    await turn();
    expect(rewinds).toEqual([{ topic: 't', partition: 3, from: 100n, attempt: 1 }]);
    expect(revoked).toEqual([[{ topic: 't', partitions: [3] }]]);
    // the older range resolving later commits nothing: its records come again
    first.resolve();
    await turn();
    await turn();
    expect(commits).toEqual([]);
  });

  it('rewinds in a row count up, and start over once a range of the partition is durable', async () => {
    ledger.add('t', 0, range(0, 0), [Promise.reject(new Error('down'))]);
    await turn();
    ledger.add('t', 0, range(0, 0), [Promise.reject(new Error('down'))]);
    await turn();
    ledger.add('t', 0, range(0, 0), [Promise.resolve()]);
    await turn();
    ledger.add('t', 0, range(1, 1), [Promise.reject(new Error('down'))]);
    await turn();
    expect(rewinds.map((rewind) => rewind.attempt)).toEqual([1, 2, 1]);
  });

  it('a revoked partition commits what is durable and drops the rest', async () => {
    const late = deferred();
    ledger.add('t', 0, range(0, 9), [Promise.resolve()]);
    ledger.add('t', 0, range(10, 19), [late.promise]);
    await ledger.revoke([{ topic: 't', partition: 0 }], 'rebalance');
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: 10n }]]);
    expect(revoked).toEqual([[{ topic: 't', partitions: [0] }]]);
    late.resolve();
    await turn();
    await turn();
    expect(commits).toHaveLength(1);
  });

  it('settling waits for every range to be made durable, then commits them', async () => {
    const flush = deferred();
    ledger.add('t', 0, range(0, 9), [flush.promise]);
    const settled = ledger.settle();
    setTimeout(() => flush.resolve(), 10);
    await settled;
    expect(commits.flat()).toContainEqual({ topic: 't', partition: 0, offset: 10n });
  });

  it('a commit the coordinator refuses is tried again later', async () => {
    let refusals = 1;
    const tried: LedgerOffset[][] = [];
    const retrying = new OffsetLedger({
      commit: async (offsets) => {
        tried.push([...offsets]);
        if (refusals-- > 0) throw new Error('REBALANCE_IN_PROGRESS');
      },
      rewind: () => undefined,
      commitRetryMs: 5,
    });
    retrying.add('t', 0, range(0, 1), [Promise.resolve()]);
    for (let wait = 0; wait < 200 && tried.length < 2; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(tried).toEqual([[{ topic: 't', partition: 0, offset: 2n }], [{ topic: 't', partition: 0, offset: 2n }]]);
    expect(retrying.pending).toBe(0);
  });
});
