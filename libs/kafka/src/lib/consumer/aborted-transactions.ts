/**
 * read_committed on the consumer side. A fetch answers with the partition's record batches and the
 * transactions aborted in the range it covers (producer id and first offset of each). Which batches
 * a read_committed consumer may hand over follows from them, by the rule of Kafka's Java consumer
 * (`CompletedFetch`): walking the batches in offset order, a producer becomes "aborted" once a batch
 * ends at or after the first offset of one of its aborted transactions; its transactional batches
 * are dropped until its abort marker (a control batch), which ends the aborted transaction. Control
 * batches themselves are never handed over.
 *
 * Several aborted transactions of one producer can fall into one fetch; each one is consumed when
 * the walk reaches it, so records between them (a committed transaction) are kept.
 */

/** What the filter needs of a record batch. */
export interface BatchFacts {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly producerId: bigint;
  readonly transactional: boolean;
  /** A control batch: a transaction marker, never user data. */
  readonly control: boolean;
  /** For a control batch, whether its marker aborts (else it commits). */
  readonly abortMarker?: boolean;
}

export interface AbortedTransaction {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** Kafka control record keys: int16 version, int16 type; type 0 aborts, 1 commits. */
export function isAbortMarkerKey(key: Buffer | null | undefined): boolean {
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0;
}

/**
 * The batches a read_committed consumer delivers, in order: no control batches, no batches of
 * aborted transactions. `batches` must be in offset order, as a fetch returns them.
 */
export function committedBatches<B extends BatchFacts>(
  batches: readonly B[],
  abortedTransactions: readonly AbortedTransaction[] | null | undefined,
): B[] {
  const pending = [...(abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const abortedProducers = new Set<bigint>();
  const delivered: B[] = [];
  let next = 0;
  for (const batch of batches) {
    // Every aborted transaction that starts within or before this batch is now in force.
    while (next < pending.length && (pending[next] as AbortedTransaction).firstOffset <= batch.lastOffset) {
      abortedProducers.add((pending[next] as AbortedTransaction).producerId);
      next++;
    }
    if (batch.control) {
      // An abort marker of a producer ends its aborted transaction; records after it are its next one.
      if (batch.abortMarker && batch.transactional) abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.transactional && abortedProducers.has(batch.producerId)) continue;
    delivered.push(batch);
  }
  return delivered;
}
