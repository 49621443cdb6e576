import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { type Admin, Kafka, type KafkaMessage } from 'kafkajs';
import pino, { type Logger } from 'pino';
import { parseEnv } from '@tributary/config';
import { DEFAULT_WAIT_MS, eventually, workspaceRoot } from '@tributary/testing';
import { decodeHeaders } from '../lib/record-headers';
import {
  createKafka,
  KAFKA_BATCH_HANDLER,
  KafkaBatchServer,
  type KafkaBatchServerOptions,
  type KafkaConnection,
  kafkaConnection,
  kafkaEnv,
  type KafkaEnvConfig,
} from '../index';
import { createTopicsWithLeaders } from '../lib/topics';

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

export function testKafka(overrides: Record<string, string> = {}): Kafka {
  return createKafka(testKafkaConfig(overrides), 'kafka-it', quietLogger());
}

/** The connection settings of {@link testKafkaConfig}, as the typed producer takes them. */
export function testConnection(overrides: Record<string, string> = {}, clientId = 'kafka-it'): KafkaConnection {
  return kafkaConnection(testKafkaConfig(overrides), clientId);
}

/** Creates topics for one test and deletes them (and their DLQs) afterwards. */
export class TestTopics {
  private readonly admin: Admin;
  private readonly created = new Set<string>();
  private connected = false;

  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }

  async create(name: string, partitions = 1): Promise<string> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    await createTopicsWithLeaders(this.admin, { topics: [{ topic: name, numPartitions: partitions }] });
    this.created.add(name);
    this.created.add(`${name}.dlq`);
    return name;
  }

  async committedOffsets(groupId: string, topic: string): Promise<Record<number, string>> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(entry.partitions.map((partition) => [partition.partition, partition.offset]));
  }

  async cleanup(): Promise<void> {
    if (!this.connected) return;
    const existing = new Set(await this.admin.listTopics());
    const topics = [...this.created].filter((topic) => existing.has(topic));
    if (topics.length > 0) await this.admin.deleteTopics({ topics }).catch(() => undefined);
    await this.admin.disconnect();
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

/** Reads `count` records of a topic from the beginning with a plain kafkajs consumer. */
export async function readRecords(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), allowAutoTopicCreation: false });
  const records: ReadRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`read ${records.length} of ${count} records of ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
          records.push({
            key: message.key === null ? null : message.key.toString(),
            value: message.value,
            headers: decodeHeaders(message.headers),
            partition,
            offset: message.offset,
            timestamp: message.timestamp,
          });
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
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
