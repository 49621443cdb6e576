import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Admin as FetchClient } from '@platformatic/kafka';
import type { Logger } from 'pino';
import { DLQ_HEADERS, type DlqRecord } from '@tributary/contracts';
import {
  applyBrokerAddress,
  clientOptionsOf,
  ClusterAdmin,
  decodeHeaders,
  type FetchedRecord,
  KAFKA_CONNECTION,
  KAFKA_LOGGER,
  type KafkaConnection,
  PartitionFetcher,
  partitionOfKey,
  TypedProducer,
} from '@tributary/kafka';
import { DlqRequestError, dlqRecordOf, MAX_REPLAY_RECORDS, replayHeaders, type ReplaySelection, selects } from './dlq-records';

export interface DlqPartition {
  readonly partition: number;
  /** First offset still in the partition (everything before was purged or expired). */
  readonly low: string;
  /** The offset the next dead-lettered record will get. */
  readonly high: string;
  readonly records: string;
}

export interface DlqPage {
  readonly dlqTopic: string;
  readonly partition: number;
  readonly partitions: readonly DlqPartition[];
  readonly records: readonly DlqRecord.Value[];
  /** Offset to ask for the next page; null when the page reached the end of the partition. */
  readonly nextOffset: string | null;
}

export interface ReplayedRecord {
  readonly dlqOffset: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface ReplayReport {
  readonly dlqTopic: string;
  readonly topic: string;
  readonly replayed: readonly ReplayedRecord[];
  /** Selected offsets that are not (or no longer) in the DLQ partition. */
  readonly missing: readonly string[];
}

export interface PurgeReport {
  readonly dlqTopic: string;
  readonly partition: number;
  readonly lowBefore: string;
  readonly lowAfter: string;
  readonly deleted: string;
}

/** How long one read of a DLQ range may take before the records found so far are returned. */
const READ_TIMEOUT_MS = 15_000;

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/**
 * Inspection, replay and purge of dead-letter topics. Reads fetch the DLQ partition from its leader
 * directly, without a consumer group (nothing of the DLQ's consumers is moved); replays send the original key,
 * value and headers back to the original topic with the service's typed producer (idempotent, acks=all); purges delete
 * records below an offset with the admin API (DeleteRecords).
 */
@Injectable()
export class DeadLetters implements OnModuleDestroy {
  private admin?: ClusterAdmin;

  constructor(
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    private readonly producer: TypedProducer,
    @Inject(KAFKA_LOGGER) private readonly logger: Logger,
  ) {}

  /** Every `*.dlq` topic on the cluster with its record counts. */
  async overview(): Promise<{ dlqTopic: string; records: string; partitions: readonly DlqPartition[] }[]> {
    const admin = this.clusterAdmin();
    const topics = (await admin.listTopics()).filter((name) => name.endsWith('.dlq')).sort();
    const result = [];
    for (const dlqTopic of topics) {
      let partitions: DlqPartition[];
      try {
        partitions = await this.partitions(dlqTopic);
      } catch (error) {
        // Deleted between the listing and the offsets: it is not part of the overview.
        this.logger.debug({ err: error, dlqTopic }, 'a dead-letter topic went away while it was listed');
        continue;
      }
      result.push({ dlqTopic, records: String(partitions.reduce((sum, p) => sum + BigInt(p.records), 0n)), partitions });
    }
    return result;
  }

  async partitions(dlqTopic: string): Promise<DlqPartition[]> {
    const offsets = await this.clusterAdmin().topicOffsets(dlqTopic, 5_000);
    return offsets.map(({ partition, low, high }) => ({ partition, low, high, records: String(BigInt(high) - BigInt(low)) }));
  }

  async page(dlqTopic: string, partition: number, fromOffset: bigint, limit: number): Promise<DlqPage> {
    const partitions = await this.partitions(dlqTopic);
    const bounds = this.boundsOf(dlqTopic, partitions, partition);
    const from = max(fromOffset, BigInt(bounds.low));
    const high = BigInt(bounds.high);
    const messages = await this.read(dlqTopic, partition, from, high, limit, () => true);
    const records = messages.map((message) => dlqRecordOf(dlqTopic, partition, message));
    const last = messages.length > 0 ? messages[messages.length - 1].offset + 1n : from;
    return { dlqTopic, partition, partitions, records, nextOffset: last < high ? String(last) : null };
  }

  async replay(dlqTopic: string, topic: string, selection: ReplaySelection): Promise<ReplayReport> {
    const bounds = this.boundsOf(dlqTopic, await this.partitions(dlqTopic), selection.partition);
    const low = BigInt(bounds.low);
    const high = BigInt(bounds.high);
    const from = max(selection.offsets?.[0] ?? selection.fromOffset ?? 0n, low);
    const until = selection.offsets !== undefined ? selection.offsets[selection.offsets.length - 1] + 1n : (selection.toOffset ?? high);
    const end = until < high ? until : high;
    const messages = from < end ? await this.read(dlqTopic, selection.partition, from, end, MAX_REPLAY_RECORDS, (offset) => selects(selection, offset)) : [];

    for (const message of messages) {
      const origin = decodeHeaders(message.headers)[DLQ_HEADERS.originalTopic];
      if (origin !== undefined && origin !== topic) {
        throw new DlqRequestError(`record ${String(message.offset)} of ${dlqTopic} came from ${origin}, not ${topic}; nothing was replayed`);
      }
    }
    const replayed: ReplayedRecord[] = [];
    if (messages.length > 0) {
      // The partition of each record is chosen here, by the partitioner every Tributary producer uses
      // (Java-compatible murmur2 of the key), so a replayed record lands where new records of its key
      // go; the producer reports the offset each one got.
      const partitions = await this.partitionsOf(topic, messages);
      const at = new Date();
      const placed = await this.producer.sendRawWithOffsets(
        topic,
        messages.map((message, i) => ({
          key: message.key,
          value: message.value,
          partition: partitions[i],
          headers: replayHeaders(message.headers, { dlqTopic, partition: selection.partition, offset: String(message.offset) }, at),
        })),
      );
      messages.forEach((message, i) => {
        const where = placed[i];
        replayed.push({ dlqOffset: String(message.offset), topic, partition: where?.partition ?? partitions[i], offset: String(where?.offset ?? -1n) });
      });
      this.logger.info({ dlqTopic, topic, records: replayed.length }, 'dead-lettered records replayed to their original topic');
    }
    const found = new Set(messages.map((message) => message.offset));
    const missing =
      selection.offsets !== undefined ? selection.offsets.filter((offset) => !found.has(offset)).map(String) : [];
    return { dlqTopic, topic, replayed, missing };
  }

  async purge(dlqTopic: string, partition: number, beforeOffset: bigint | undefined): Promise<PurgeReport> {
    const bounds = this.boundsOf(dlqTopic, await this.partitions(dlqTopic), partition);
    const high = BigInt(bounds.high);
    const before = beforeOffset === undefined || beforeOffset > high ? high : beforeOffset;
    const lowBefore = BigInt(bounds.low);
    if (before > lowBefore) {
      await this.clusterAdmin().deleteRecordsBefore(dlqTopic, partition, before);
      this.logger.warn({ dlqTopic, partition, beforeOffset: String(before), deleted: String(before - lowBefore) }, 'dead-letter records purged');
    }
    const after = this.boundsOf(dlqTopic, await this.partitions(dlqTopic), partition);
    return {
      dlqTopic,
      partition,
      lowBefore: String(lowBefore),
      lowAfter: after.low,
      deleted: String(BigInt(after.low) - lowBefore),
    };
  }

  async onModuleDestroy(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.close();
  }

  private boundsOf(dlqTopic: string, partitions: readonly DlqPartition[], partition: number): DlqPartition {
    const bounds = partitions.find((p) => p.partition === partition);
    if (bounds === undefined) {
      throw new DlqRequestError(`${dlqTopic} has no partition ${partition} (partitions 0..${partitions.length - 1})`);
    }
    return bounds;
  }

  /** The partition the default partitioner gives each record (murmur2 of the key, as Java's), from the topic's partition count. */
  private async partitionsOf(topic: string, messages: readonly FetchedRecord[]): Promise<number[]> {
    const count = await this.clusterAdmin().partitionCount(topic);
    let next = 0;
    return messages.map((message) => (message.key === null ? next++ % count : partitionOfKey(message.key, count)));
  }

  /**
   * Records of one partition in [from, until) that `accept` takes, at most `limit`, fetched from
   * the partition's leader directly: no consumer group, nothing committed.
   */
  private async read(
    dlqTopic: string,
    partition: number,
    from: bigint,
    until: bigint,
    limit: number,
    accept: (offset: bigint) => boolean,
  ): Promise<FetchedRecord[]> {
    if (from >= until || limit <= 0) return [];
    const client = applyBrokerAddress(new FetchClient(clientOptionsOf(this.connection)), this.connection);
    const fetcher = new PartitionFetcher(client, { maxWaitMs: 200 });
    fetcher.assign(dlqTopic, partition, from);
    const found: FetchedRecord[] = [];
    const deadline = Date.now() + READ_TIMEOUT_MS;
    try {
      reading: while (Date.now() < deadline) {
        const fetched = await fetcher.fetch();
        const failure = fetched.errors[0];
        if (failure?.outOfRange) break; // purged meanwhile: what is left of the range is gone
        for (const { records } of fetched.partitions) {
          for (const record of records) {
            if (record.offset >= until || found.length >= limit) break reading;
            if (accept(record.offset)) found.push(record);
          }
        }
        if ((fetcher.position(dlqTopic, partition) ?? until) >= until) break;
      }
    } finally {
      await client.close().catch(() => undefined);
    }
    return found;
  }

  private clusterAdmin(): ClusterAdmin {
    this.admin ??= new ClusterAdmin(this.connection);
    return this.admin;
  }
}
