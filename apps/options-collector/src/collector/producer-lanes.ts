import type { TypedProducer } from '@tributary/kafka';
import type { PublishTarget } from './outgoing-batch';

/** FNV-1a of a string, for keys no configured underlying names. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The collector's producers, split by underlying: each is its own idempotent Kafka producer (its own
 * connection and request in flight per broker), and every underlying always goes through the same one,
 * so each key keeps its order in its partition. The configured underlyings are dealt round-robin; any
 * other key (an unknown symbol on its way to a DLQ) by a hash.
 */
export class ProducerLanes implements PublishTarget {
  readonly producerId: string;
  readonly producers: readonly TypedProducer[];
  private readonly lanes = new Map<string, number>();

  constructor(producers: TypedProducer | readonly TypedProducer[], underlyings: readonly string[] = []) {
    this.producers = Array.isArray(producers) ? [...(producers as readonly TypedProducer[])] : [producers as TypedProducer];
    if (this.producers.length === 0) throw new RangeError('the collector needs at least one producer');
    this.producerId = this.producers[0].producerId;
    underlyings.forEach((underlying, index) => this.lanes.set(underlying, index % this.producers.length));
  }

  laneOf(key: string): number {
    return this.lanes.get(key) ?? hashOf(key) % this.producers.length;
  }

  /** Connects every producer; rejects when one cannot connect. */
  async connect(): Promise<void> {
    await Promise.all(this.producers.map((producer) => producer.connect()));
  }
}
