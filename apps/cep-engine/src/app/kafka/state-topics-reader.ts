import type { Logger } from 'pino';
import { CATALOG, type CepRule, decodeEvent, HEADERS } from '@tributary/contracts';
import { ClusterAdmin, headerValue, type KafkaConnection, TopicReader } from '@tributary/kafka';
import type { CepTopics } from '../engine/cep-topics';
import { checkpointKey, claimKey, parseCheckpointRecord, parseSlot, type PartitionCheckpoint, type Slot } from '../engine/checkpoint';
import type { RuleBook } from '../rules/rule-book';

interface ClaimWaiter {
  readonly nonce: string;
  readonly resolve: () => void;
}

/**
 * Follows the two compacted topics every instance reads in full: `cep.rules` (into the RuleBook) and
 * `cep.checkpoints` (the latest checkpoint of each slot of this group, kept as raw bytes
 * and parsed only when this instance takes the partition). Read committed, so a checkpoint of an
 * aborted transaction is never seen. It reads every partition without a consumer group, committing nothing.
 */
export class StateTopicsReader {
  private reader: TopicReader | undefined;
  private readonly checkpoints = new Map<Slot, Buffer>();
  private readonly claims = new Map<Slot, string>();
  private readonly waiters = new Map<Slot, ClaimWaiter[]>();
  /** Highest offset seen per rules partition. */
  private readonly rulesSeen = new Map<number, bigint>();
  private readonly prefix: string;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly topics: CepTopics,
    private readonly group: string,
    private readonly rules: RuleBook,
    private readonly logger: Logger,
  ) {
    this.prefix = `${group}/`;
  }

  async start(): Promise<void> {
    const reader = new TopicReader(this.connection, {
      topics: [this.topics.rules, this.topics.checkpoints],
      from: 'earliest',
      readCommitted: true,
      maxWaitMs: 100,
      handle: ({ topic, partition, records }) => {
        for (const record of records) {
          if (topic === this.topics.rules) this.onRule(partition, record.offset, record.key, record.value, record.headers);
          else this.onCheckpoint(record.key, record.value);
        }
      },
      logger: this.logger,
    });
    this.reader = reader;
    await reader.start();
  }

  async stop(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    await reader?.stop().catch(() => undefined);
  }

  /** Resolves once every rule written before this call has been read. */
  async rulesLoaded(timeoutMs: number): Promise<void> {
    const admin = new ClusterAdmin(this.connection);
    let ends: { partition: number; high: string; low: string }[];
    try {
      ends = await admin.topicOffsets(this.topics.rules);
    } finally {
      await admin.close();
    }
    const deadline = Date.now() + timeoutMs;
    const pending = () =>
      ends.filter(({ partition, high, low }) => high !== low && (this.rulesSeen.get(partition) ?? -1n) < BigInt(high) - 1n);
    while (pending().length > 0) {
      if (Date.now() > deadline) throw new Error(`rules topic ${this.topics.rules} not read to its end within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Resolves once the claim with this nonce was read: every checkpoint committed before it has been seen. */
  waitForClaim(partition: Slot, nonce: string, timeoutMs: number): Promise<void> {
    if (this.claims.get(partition) === nonce) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(partition) ?? [];
        this.waiters.set(partition, list.filter((waiter) => waiter !== entry));
        reject(new Error(`claim of partition ${partition} not read back from ${this.topics.checkpoints} within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry: ClaimWaiter = {
        nonce,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const list = this.waiters.get(partition) ?? [];
      list.push(entry);
      this.waiters.set(partition, list);
    });
  }

  /** The latest committed checkpoint of a slot, or undefined when it never had one. */
  checkpoint(partition: Slot): PartitionCheckpoint | undefined {
    const raw = this.checkpoints.get(partition);
    if (raw === undefined) return undefined;
    const record = parseCheckpointRecord(raw);
    return record.kind === 'state' ? record : undefined;
  }

  private onRule(partition: number, offset: bigint, key: Buffer | null, value: Buffer | null, headers: Parameters<typeof headerValue>[0]): void {
    this.rulesSeen.set(partition, offset);
    const id = key?.toString('utf8');
    if (!id) {
      this.logger.warn({ offset: String(offset) }, 'rules topic record without a key ignored');
      return;
    }
    if (value === null) {
      if (this.rules.apply(id, null)) this.logger.info({ rule: id }, 'rule removed');
      return;
    }
    let spec: CepRule.Value;
    try {
      const rulesSpec = { ...CATALOG['cep.rules'], topic: this.topics.rules };
      spec = decodeEvent(rulesSpec, value, { schemaVersion: headerValue(headers, HEADERS.schemaVersion), maxFutureSkewMs: Number.MAX_SAFE_INTEGER }) as CepRule.Value;
    } catch (error) {
      this.logger.error({ err: error, rule: id, offset: String(offset) }, 'invalid rule record ignored');
      return;
    }
    if (spec.id !== id) {
      this.logger.error({ rule: spec.id, key: id, offset: String(offset) }, 'rule record whose key is not its id ignored');
      return;
    }
    if (this.rules.apply(id, spec)) {
      const entry = this.rules.get(id);
      if (entry?.error) this.logger.error({ rule: id, version: spec.version, reason: entry.error }, 'rule does not compile; it is not run');
      else this.logger.info({ rule: id, version: spec.version, enabled: spec.enabled }, 'rule loaded');
    }
  }

  private onCheckpoint(key: Buffer | null, value: Buffer | null): void {
    const name = key?.toString('utf8');
    if (!name || !name.startsWith(this.prefix)) return;
    const [, partitionText, kind] = name.slice(this.group.length).split('/');
    const partition = parseSlot(partitionText);
    if (partition === undefined) return;
    if (kind === undefined && name === checkpointKey(this.group, partition)) {
      if (value === null) this.checkpoints.delete(partition);
      else this.checkpoints.set(partition, value);
      return;
    }
    if (kind === 'claim' && name === claimKey(this.group, partition) && value !== null) {
      let nonce: string;
      try {
        const record = parseCheckpointRecord(value);
        if (record.kind !== 'claim') return;
        nonce = record.nonce;
      } catch (error) {
        this.logger.warn({ err: error, key: name }, 'unreadable claim record ignored');
        return;
      }
      this.claims.set(partition, nonce);
      const waiters = this.waiters.get(partition) ?? [];
      const [matching, others] = [waiters.filter((w) => w.nonce === nonce), waiters.filter((w) => w.nonce !== nonce)];
      this.waiters.set(partition, others);
      for (const waiter of matching) waiter.resolve();
    }
  }
}
