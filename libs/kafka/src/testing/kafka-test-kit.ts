import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { parseEnv } from '@tributary/config';
import { DEFAULT_WAIT_MS, eventually, workspaceRoot } from '@tributary/testing';
import { decodeHeaders } from '../lib/record-headers';
import {
  ClusterAdmin,
  type FetchedRecord,
  KAFKA_BATCH_HANDLER,
  KafkaBatchServer,
  type KafkaBatchServerOptions,
  type KafkaConnection,
  kafkaConnection,
  kafkaEnv,
  type KafkaEnvConfig,
  TopicReader,
} from '../index';

/** A topic or group name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Logs of the code under test: warnings and errors only, to stderr, so failures explain themselves. */
export function quietLogger(): Logger {
  return pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
}

/** The Kafka config of the local plaintext listener, with overrides. */
export function testKafkaConfig(overrides: Record<string, string> = {}): KafkaEnvConfig {
  return parseEnv(kafkaEnv, {
    KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
    ...overrides,
  });
}

/** The connection settings of {@link testKafkaConfig}, as the typed producer takes them. */
export function testConnection(overrides: Record<string, string> = {}, clientId = 'kafka-it'): KafkaConnection {
  return kafkaConnection(testKafkaConfig(overrides), clientId);
}

/** Creates topics for one test and deletes them (and their DLQs) afterwards. */
export class TestTopics {
  /** The admin client of the topics, for the test's own questions (offsets, configs, groups). */
  readonly admin: ClusterAdmin;
  private readonly created = new Set<string>();

  constructor(connection: KafkaConnection = testConnection()) {
    this.admin = new ClusterAdmin(connection);
  }

  /** Creates the topic (with the configs given) and resolves once every partition has a leader. */
  async create(name: string, partitions = 1, configs: Readonly<Record<string, string>> = {}): Promise<string> {
    const configEntries = Object.entries(configs).map(([config, value]) => ({ name: config, value }));
    await this.admin.ensureConfigs([{ topic: name, numPartitions: partitions, configEntries }]);
    this.created.add(name);
    this.created.add(`${name}.dlq`);
    return name;
  }

  /** The group's committed offsets of the topic, for every partition ('-1' where nothing was committed). */
  async committedOffsets(groupId: string, topic: string): Promise<Record<number, string>> {
    const committed = (await this.admin.committedOffsets(groupId, [topic])).get(topic) ?? new Map<number, bigint>();
    const partitions = await this.admin.partitionCount(topic);
    return Object.fromEntries(Array.from({ length: partitions }, (_, partition) => [partition, (committed.get(partition) ?? -1n).toString()]));
  }

  async cleanup(): Promise<void> {
    if (this.created.size > 0) await this.admin.deleteTopics([...this.created]).catch(() => undefined);
    await this.admin.close();
  }
}

export interface ReadRecord {
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
  readonly partition: number;
  readonly offset: string;
  /** Record timestamp, ms since the epoch. */
  readonly timestamp: string;
}

function readRecordOf(partition: number, record: FetchedRecord): ReadRecord {
  return {
    key: record.key === null ? null : record.key.toString(),
    value: record.value,
    headers: decodeHeaders(record.headers),
    partition,
    offset: record.offset.toString(),
    timestamp: record.timestamp.toString(),
  };
}

export interface FollowOptions {
  /** Where each partition starts; default its earliest record. */
  readonly from?: 'earliest' | 'latest';
  /** Default true: records of aborted transactions are never seen. */
  readonly readCommitted?: boolean;
}

/**
 * Reads every partition of some topics from the start (no consumer group, nothing committed) and
 * keeps what it read in `records`, in the order it arrived; `stop` when done.
 */
export class TopicFollower {
  readonly records: (ReadRecord & { readonly topic: string })[] = [];
  private readonly reader: TopicReader;

  private constructor(connection: KafkaConnection, topics: readonly string[], options: FollowOptions) {
    this.reader = new TopicReader(connection, {
      topics,
      from: options.from ?? 'earliest',
      readCommitted: options.readCommitted ?? true,
      handle: (batch) => {
        for (const record of batch.records) this.records.push({ topic: batch.topic, ...readRecordOf(batch.partition, record) });
      },
      logger: quietLogger(),
    });
  }

  /** Starts reading; resolves once every partition has its start position. */
  static async start(connection: KafkaConnection, topics: readonly string[], options: FollowOptions = {}): Promise<TopicFollower> {
    const follower = new TopicFollower(connection, topics, options);
    await follower.reader.start();
    return follower;
  }

  /** Records of one topic read so far (all of them without `topic`). */
  of(topic?: string): ReadRecord[] {
    return topic === undefined ? this.records : this.records.filter((record) => record.topic === topic);
  }

  /** Waits until `count` records (of `topic`, when given) have been read; returns them. */
  async waitFor(count: number, topic?: string, timeoutMs = DEFAULT_WAIT_MS): Promise<ReadRecord[]> {
    await eventually(() => this.of(topic).length >= count, `${count} records of ${topic ?? 'the topics'} (read ${this.of(topic).length})`, timeoutMs);
    return this.of(topic);
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}

/** Reads `count` records of a topic from the beginning, without a consumer group. */
export async function readRecords(
  connection: KafkaConnection,
  topic: string,
  count: number,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<ReadRecord[]> {
  const follower = await TopicFollower.start(connection, [topic]);
  try {
    return (await follower.waitFor(count, topic, timeoutMs)).slice(0, count);
  } finally {
    await follower.stop();
  }
}

export interface EchoLine {
  readonly echo: string;
  readonly [field: string]: unknown;
}

/**
 * The echo fixture (fixtures/echo-service.ts) running in its own Node process: every JSON line it
 * prints with an `echo` field is collected; everything else it writes is kept for failure messages.
 */
export class EchoProcess {
  readonly lines: EchoLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private output = '';

  constructor(env: Record<string, string>) {
    const entry = join(workspaceRoot, 'libs/kafka/src/testing/fixtures/echo-service.ts');
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', entry], {
      cwd: workspaceRoot,
      env: {
        ...process.env,
        // The root config: swc-node resolves the @tributary/* paths relative to the file it is given.
        SWC_NODE_PROJECT: join(workspaceRoot, 'tsconfig.base.json'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { stdout, stderr } = this.child;
    if (stdout === null || stderr === null) throw new Error('the echo service has no output pipes');
    createInterface({ input: stdout }).on('line', (line) => {
      if (line.startsWith('{"echo":')) this.lines.push(JSON.parse(line) as EchoLine);
      else this.output += `${line}\n`;
    });
    stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  records(): EchoLine[] {
    return this.lines.filter((line) => line.echo === 'record');
  }

  /** Waits until `condition` holds for the lines printed so far; fails at once if the process ends first. */
  async waitFor(
    condition: (lines: EchoLine[]) => boolean,
    what: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<void> {
    try {
      await eventually(() => condition(this.lines) || this.ended(), what, timeoutMs);
      if (!condition(this.lines)) {
        const { exitCode, signalCode } = this.child;
        throw new Error(`the echo service ended (code ${exitCode}, signal ${signalCode}) before ${what}`);
      }
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\n--- echo service output ---\n${this.output.slice(-6000)}`,
      );
    }
  }

  private ended(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.ended()) this.child.kill(signal);
  }

  /** Ends the process (SIGKILL) if it still runs. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  log(): string {
    return this.output;
  }
}

export interface TestServerOptions extends Partial<KafkaBatchServerOptions> {
  readonly topic: string;
  readonly handler: (value: unknown, context: unknown) => unknown;
  /** Register the handler as a batch handler (as @BatchEventPattern does). */
  readonly batch?: boolean;
  /** Further topics the same consumer reads, each with its own record handler. */
  readonly alsoConsumes?: Readonly<Record<string, (value: unknown, context: unknown) => unknown>>;
}

/**
 * A {@link KafkaBatchServer} in this process with one handler, registered the way Nest registers an
 * @EventPattern method; resolves once the consumer has joined its group.
 */
export async function startTestServer(options: TestServerOptions): Promise<KafkaBatchServer> {
  const { topic, handler, batch, alsoConsumes, ...rest } = options;
  const server = new KafkaBatchServer({
    service: 'kafka-it',
    groupId: uniqueName('group'),
    logger: quietLogger(),
    retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
    connection: testConnection(),
    ...rest,
  });
  server.addHandler(topic, async (value: unknown, context: unknown) => handler(value, context), true, {
    [KAFKA_BATCH_HANDLER]: batch === true,
  });
  for (const [other, otherHandler] of Object.entries(alsoConsumes ?? {})) {
    server.addHandler(other, async (value: unknown, context: unknown) => otherHandler(value, context), true);
  }
  await new Promise<void>((resolve, reject) =>
    server.listen((error?: unknown) => (error ? reject(error) : resolve())),
  );
  await eventually(() => server.ready, `the consumer of ${topic} to join its group`);
  return server;
}
