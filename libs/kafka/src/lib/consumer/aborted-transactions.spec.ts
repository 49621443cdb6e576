import { type BatchFacts, committedBatches, isAbortMarkerKey } from './aborted-transactions';

/** A data batch of `producer` at [from, to]. */
const data = (producer: bigint, from: number, to: number, transactional = true): BatchFacts => ({
  baseOffset: BigInt(from),
  lastOffset: BigInt(to),
  producerId: producer,
  transactional,
  control: false,
});
/** A transaction marker of `producer` at `offset`. */
const marker = (producer: bigint, offset: number, abort: boolean): BatchFacts => ({
  baseOffset: BigInt(offset),
  lastOffset: BigInt(offset),
  producerId: producer,
  transactional: true,
  control: true,
  abortMarker: abort,
});
const offsets = (batches: readonly BatchFacts[]) => batches.map((batch) => Number(batch.baseOffset));

describe('read_committed: which fetched batches a consumer hands over', () => {
  it('drops the batches of an aborted transaction and every marker, keeps committed and non-transactional ones', () => {
    const batches = [
      data(1n, 0, 9),
      data(2n, 10, 19),
      marker(1n, 20, true),
      marker(2n, 21, false),
      data(3n, 22, 30, false),
    ];
    expect(offsets(committedBatches(batches, [{ producerId: 1n, firstOffset: 0n }]))).toEqual([10, 22]);
  });

  it("two aborted transactions of one producer in one fetch: both are dropped, the committed one between them is kept", () => {
    const batches = [
      data(7n, 0, 4),
      marker(7n, 5, true),
      data(7n, 6, 10),
      marker(7n, 11, false),
      data(7n, 12, 15),
      marker(7n, 16, true),
    ];
    const aborted = [
      { producerId: 7n, firstOffset: 12n },
      { producerId: 7n, firstOffset: 0n },
    ];
    expect(offsets(committedBatches(batches, aborted))).toEqual([6]);
  });

  it('an aborted transaction only takes effect from its first offset: earlier committed batches of the producer stay', () => {
    const batches = [data(4n, 0, 3), marker(4n, 4, false), data(4n, 5, 8), marker(4n, 9, true)];
    expect(offsets(committedBatches(batches, [{ producerId: 4n, firstOffset: 5n }]))).toEqual([0]);
  });

  it("another producer's batches interleaved with an aborted transaction are kept", () => {
    const batches = [data(1n, 0, 1), data(2n, 2, 3), data(1n, 4, 5), marker(2n, 6, false), marker(1n, 7, true)];
    expect(offsets(committedBatches(batches, [{ producerId: 1n, firstOffset: 0n }]))).toEqual([2]);
  });

  it('without aborted transactions only the markers are dropped', () => {
    const batches = [data(1n, 0, 1), marker(1n, 2, false), data(9n, 3, 3, false)];
    expect(offsets(committedBatches(batches, null))).toEqual([0, 3]);
  });

  it('reads the marker type from a control record key (version, type: 0 aborts, 1 commits)', () => {
    expect(isAbortMarkerKey(Buffer.from([0, 0, 0, 0]))).toBe(true);
    expect(isAbortMarkerKey(Buffer.from([0, 0, 0, 1]))).toBe(false);
    expect(isAbortMarkerKey(null)).toBe(false);
  });
});
