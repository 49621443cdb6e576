/**
 * The partition Kafka's Java producer gives a keyed record: `toPositive(murmur2(keyBytes)) %
 * partitions` (`BuiltInPartitioner.partitionForKey`). Co-partitioned topics (the CEP engine's
 * inputs, the candles) only line up when every producer, Java or ours, agrees on it.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of `bytes` as a signed 32-bit integer (`Utils.murmur2`). */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (bytes[whole + 2] as number) << 16;
    if (rest >= 2) h ^= (bytes[whole + 1] as number) << 8;
    h ^= bytes[whole] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java producer's partition of a key among `partitions`. */
export function partitionOfKey(key: string | Uint8Array, partitions: number): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}

/**
 * {@link partitionOfKey} remembering the answers: Tributary's keys are few and repeat (symbols,
 * underlyings, account ids), so most records cost one map lookup. Bounded: past `maxKeys` it
 * starts over.
 */
export class KeyPartitioner {
  private readonly known = new Map<string, number>();

  constructor(
    readonly partitions: number,
    private readonly maxKeys = 10_000,
  ) {
    if (!Number.isInteger(partitions) || partitions < 1)
      throw new Error(`partitions must be a positive integer, got ${partitions}`);
  }

  partitionOf(key: string): number {
    let partition = this.known.get(key);
    if (partition === undefined) {
      partition = partitionOfKey(key, this.partitions);
      if (this.known.size >= this.maxKeys) this.known.clear();
      this.known.set(key, partition);
    }
    return partition;
  }
}
