// Kafka clients for Node.js side by side on the local broker, with Kafka's own Java tools as the
// ceiling measured in the same run: the figures behind the choice of client in ARCHITECTURE.md.
//
//   bash tools/infra/up
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/kafka-clients.ts
//
// The candidates are installed by this script, at pinned versions, into .run/bench-clients (outside
// the project's dependencies: the platform itself uses one client). A candidate that does not
// install from the npm registry alone (a native addon without a prebuilt binary for this machine
// that does not build here) is reported as such. BENCH_CLIENTS picks some (comma-separated names;
// empty for none: Java and Tributary's own TypedProducer only).
//
// Every producer writes the same BENCH_RECORDS (default 1 000 000) market.quotes values (~170 bytes
// of JSON, keyed by one of 500 symbols) to a fresh 6-partition topic, acks=all, idempotent,
// uncompressed, BENCH_IN_FLIGHT (default 4) sends of BENCH_BATCH (default 1 000) records
// outstanding; once without headers and once with the seven string headers a Tributary record
// carries. Consumers read the same topic from the beginning in a fresh group. Figures: records per
// second of wall time, and microseconds of this process's CPU per record. The key placement check
// compares each client's partition for 500 keys with the partition Kafka's Java producer chose.
// Results go to bench-results/kafka-clients.json.

import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CATALOG, type EventOf, HEADERS, sampleEvent } from '@tributary/contracts';
import {
  KAFKA_BATCH_HANDLER,
  KafkaBatchServer,
  kafkaConnection,
  ManagedConsumer,
  type OutgoingRecord,
  parseKafkaEnv,
  TypedProducer,
} from '@tributary/kafka';
import { readInfraEnv, runKafkaTool, workspaceRoot } from '@tributary/testing';
import { consumerPerformance, producerPerformance } from './platform/kafka-ceiling';
import pino from 'pino';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
/** ProducerPerformance gets three times as many records: a short run measures mostly the JVM warming up. */
const JAVA_RECORDS = 3 * RECORDS;
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1_000);
const IN_FLIGHT = Number(process.env['BENCH_IN_FLIGHT'] ?? 4);
const PARTITIONS = 6;
const SYMBOLS = Array.from({ length: 500 }, (_, i) => `SYM${i.toString(36).toUpperCase()}`);

const VERSIONS = {
  kafkajs: '2.2.4',
  '@platformatic/kafka': '2.12.1',
  '@confluentinc/kafka-javascript': '1.10.1',
} as const;
type ClientName = keyof typeof VERSIONS;

Object.assign(process.env, { ...readInfraEnv(), ...process.env });
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const run = `bench-clients-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

interface Figure {
  recordsPerSecond: number;
  /** CPU time of this process per record, µs (the Java tools run in their own JVM: not measured). */
  cpuMicrosPerRecord?: number;
  seconds: number;
}

interface Candidate {
  readonly name: ClientName;
  produce(topic: string, withHeaders: boolean): Promise<Figure>;
  consume(topic: string): Promise<Figure>;
  partitionOf(key: string, partitions: number): number;
}

const EVENT_TIME0 = 1_767_225_600_000_000_000n;
/** The same values for every client: one ~170-byte quote per record, keys cycling through the symbols. */
const events = Array.from({ length: RECORDS }, (_, i) =>
  sampleEvent('market.quotes', {
    symbol: SYMBOLS[i % SYMBOLS.length] as string,
    bidPrice: 100 + (i % 97) / 100,
    ts: String(EVENT_TIME0 + BigInt(i)),
  }),
);
const records = events.map((event) => ({ key: event.symbol, value: Buffer.from(JSON.stringify(event)), ts: event.ts }));
const meanValueBytes = Math.round(
  records.reduce((sum, record) => sum + record.value.length, 0) / records.length,
);

/** The seven headers of a Tributary record, as strings. */
function headersOf(i: number): Record<string, string> {
  const record = records[i] as (typeof records)[number];
  return {
    [HEADERS.schemaName]: 'UnderlyingQuote',
    [HEADERS.schemaVersion]: '1',
    [HEADERS.eventTime]: record.ts,
    [HEADERS.producer]: 'kafka-clients-bench/local',
    [HEADERS.correlationId]: '0f8fad5b-d9cb-469f-a165-70867728950e',
    [HEADERS.idempotencyKey]: `${record.key}-${i}`,
    source: 'bench',
  };
}

/** Wall time and this process's CPU time over `work`, per record. */
async function measure(count: number, work: () => Promise<void>): Promise<Figure> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    recordsPerSecond: Math.round(count / seconds),
    cpuMicrosPerRecord: Number(((used.user + used.system) / count).toFixed(2)),
    seconds: Number(seconds.toFixed(2)),
  };
}

/** Sends batches of [0, RECORDS) with at most IN_FLIGHT sends outstanding. */
async function pipeline(sendBatch: (from: number, to: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < RECORDS) {
      const from = next;
      next = Math.min(RECORDS, next + BATCH);
      await sendBatch(from, next);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

/** Resolves when `count` records have been seen, measuring from the first one. */
function counter(count: number): { seen(n: number): void; figure: Promise<Figure> } {
  let seen = 0;
  let done!: () => void;
  let started!: (value: Promise<Figure>) => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const figure = new Promise<Promise<Figure>>((resolve) => (started = resolve)).then((f) => f);
  return {
    seen(n: number) {
      if (seen === 0) started(measure(count, () => finished));
      seen += n;
      if (seen >= count) done();
    },
    figure,
  };
}

// --- installing the candidates ---------------------------------------------------------------

const clientsDir = join(workspaceRoot, '.run', 'bench-clients');

/** Installs the candidates at their pinned versions; returns an error text per one that failed. */
function install(names: readonly ClientName[]): Map<ClientName, string> {
  mkdirSync(clientsDir, { recursive: true });
  if (!existsSync(join(clientsDir, 'package.json')))
    writeFileSync(join(clientsDir, 'package.json'), '{ "private": true }\n');
  const failures = new Map<ClientName, string>();
  for (const name of names) {
    const installed = join(clientsDir, 'node_modules', name, 'package.json');
    if (
      existsSync(installed) &&
      (createRequire(installed)(installed) as { version: string }).version === VERSIONS[name]
    )
      continue;
    console.log(`installing ${name}@${VERSIONS[name]} into ${clientsDir}`);
    try {
      // Saved in the folder's own package.json, so installing the next candidate keeps this one.
      execFileSync(
        'npm',
        ['install', '--no-audit', '--no-fund', '--save-exact', `${name}@${VERSIONS[name]}`],
        {
          cwd: clientsDir,
          stdio: ['ignore', 'inherit', 'pipe'],
          // A native addon builds against the headers of the Node.js running this script.
          env: { ...process.env, npm_config_nodedir: dirname(dirname(process.execPath)) },
        },
      );
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? error)
        .trim()
        .split('\n');
      failures.set(name, stderr.slice(-6).join('\n'));
    }
  }
  return failures;
}

const load = (name: string): unknown => createRequire(join(clientsDir, 'package.json'))(name);

// --- the candidates --------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- clients loaded at run time from .run/bench-clients */

/** Produces every record through a producer with kafkajs's API (kafkajs and its Confluent look-alike). */
async function produceKafkajsStyle(
  producer: any,
  topic: string,
  withHeaders: boolean,
  sendOptions: Record<string, unknown>,
): Promise<Figure> {
  await producer.connect();
  const figure = await measure(RECORDS, () =>
    pipeline((from, to) => {
      const messages = [];
      for (let i = from; i < to; i++) {
        const record = records[i] as (typeof records)[number];
        messages.push({
          key: record.key,
          value: record.value,
          headers: withHeaders ? headersOf(i) : undefined,
        });
      }
      return producer.send({ topic, messages, ...sendOptions });
    }),
  );
  await producer.disconnect();
  return figure;
}

function kafkajsCandidate(): Candidate {
  const { Kafka, logLevel, Partitioners } = load('kafkajs') as any;
  const kafka = new Kafka({ clientId: 'kafka-clients-bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const partitioner = Partitioners.DefaultPartitioner();
  return {
    name: 'kafkajs',
    async produce(topic, withHeaders) {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 5,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      return produceKafkajsStyle(producer, topic, withHeaders, { acks: -1 });
    },
    async consume(topic) {
      const consumer = kafka.consumer({ groupId: `${run}-kafkajs`, maxBytesPerPartition: 1_048_576 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const count = counter(RECORDS);
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }: any) => count.seen(batch.messages.length),
      });
      const figure = await count.figure;
      await consumer.disconnect();
      return figure;
    },
    partitionOf(key, partitions) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 1,
      }));
      return partitioner({ topic: 'keys', partitionMetadata, message: { key, value: null } });
    },
  };
}

function platformaticCandidate(): Candidate {
  const { Producer, Consumer, ProduceAcks, compatibilityPartitioner } = load('@platformatic/kafka') as any;
  return {
    name: '@platformatic/kafka',
    async produce(topic, withHeaders) {
      const producer = new Producer({
        clientId: 'kafka-clients-bench',
        bootstrapBrokers: BROKERS,
        idempotent: true,
        acks: ProduceAcks.ALL,
        partitioner: compatibilityPartitioner,
        autocreateTopics: false,
      });
      const figure = await measure(RECORDS, () =>
        pipeline((from, to) => {
          const messages = [];
          for (let i = from; i < to; i++) {
            const record = records[i] as (typeof records)[number];
            const headers = withHeaders
              ? new Map(
                  Object.entries(headersOf(i)).map(([name, value]) => [
                    Buffer.from(name),
                    Buffer.from(value),
                  ]),
                )
              : undefined;
            messages.push({ topic, key: Buffer.from(record.key), value: record.value, headers });
          }
          return producer.send({ messages });
        }),
      );
      await producer.close();
      return figure;
    },
    async consume(topic) {
      const consumer = new Consumer({
        clientId: 'kafka-clients-bench',
        bootstrapBrokers: BROKERS,
        groupId: `${run}-platformatic`,
        maxBytesPerPartition: 1_048_576,
      });
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      const count = counter(RECORDS);
      stream.on('data', () => count.seen(1));
      const figure = await count.figure;
      await stream.close();
      await consumer.close();
      return figure;
    },
    partitionOf(key, partitions) {
      return compatibilityPartitioner({}, Buffer.from(key)) % partitions;
    },
  };
}

function confluentCandidate(): Candidate {
  const { KafkaJS } = load('@confluentinc/kafka-javascript') as any;
  const kafka = new KafkaJS.Kafka({
    kafkaJS: { clientId: 'kafka-clients-bench', brokers: BROKERS, logLevel: KafkaJS.logLevel.NOTHING },
  });
  return {
    name: '@confluentinc/kafka-javascript',
    async produce(topic, withHeaders) {
      // The KafkaJS-compatible API; librdkafka batches per partition (linger.ms as Java's default).
      const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 }, 'linger.ms': 5 });
      // acks come from the producer's configuration in this API.
      return produceKafkajsStyle(producer, topic, withHeaders, {});
    },
    async consume(topic) {
      const consumer = kafka.consumer({
        kafkaJS: { groupId: `${run}-confluent`, fromBeginning: true, autoCommit: false },
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      const count = counter(RECORDS);
      await consumer.run({ eachBatch: async ({ batch }: any) => count.seen(batch.messages.length) });
      const figure = await count.figure;
      await consumer.disconnect();
      return figure;
    },
    // murmur2_random (Java's) is what the KafkaJS-compatible producer configures.
    partitionOf: () => -1,
  };
}

/* eslint-enable @typescript-eslint/no-explicit-any */

const FACTORIES: Record<ClientName, () => Candidate> = {
  kafkajs: kafkajsCandidate,
  '@platformatic/kafka': platformaticCandidate,
  '@confluentinc/kafka-javascript': confluentCandidate,
};

// --- Kafka's own tools ------------------------------------------------------------------------

/**
 * Tributary's own TypedProducer: the same events as objects, serialised, checked against the catalog
 * schema (when `validate`) and sent with the contract headers (schema name and version, event time,
 * producer, correlation ID, idempotency key) and one header of the caller: the seven headers above.
 */
async function typedProducer(topic: string, validate: boolean): Promise<Figure> {
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: BROKERS.join(',') }), 'kafka-clients-bench');
  const producer = new TypedProducer(connection, { service: 'kafka-clients-bench', instanceId: 'local', validate });
  const spec = { ...CATALOG['market.quotes'], topic };
  const extra = { source: 'bench' };
  const envelopes: OutgoingRecord<EventOf<'market.quotes'>>[] = events.map((value, i) => ({
    value,
    idempotencyKey: `${value.symbol}-${i}`,
    headers: extra,
  }));
  await producer.connect();
  try {
    return await measure(RECORDS, () => pipeline((from, to) => producer.sendTo(spec, envelopes.slice(from, to))));
  } finally {
    await producer.disconnect();
  }
}

/** Tributary's managed consumer over a topic the typed producer wrote, from the beginning, in a fresh group. */
async function managedConsumer(topic: string): Promise<Figure> {
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: BROKERS.join(',') }), 'kafka-clients-bench');
  let seen = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = new ManagedConsumer(connection, {
    groupId: `${run}-managed-${randomUUID().slice(0, 6)}`,
    topics: [topic],
    autoCommit: true,
    handle: async ({ records }) => {
      seen += records.length;
      if (seen >= RECORDS) done();
    },
  });
  try {
    // From the moment the member has its partitions: ConsumerPerformance's fetch rate leaves the join out too.
    await consumer.start();
    return await measure(RECORDS - seen, () => finished);
  } finally {
    await consumer.stop();
  }
}

/**
 * The consumer transport of every service (`KafkaBatchServer`, as `@EventPattern` or
 * `@BatchEventPattern` handlers get it): each record parsed from JSON and checked against the
 * market.quotes contract, commits after each batch.
 */
async function batchServer(topic: string, batch: boolean): Promise<Figure> {
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: BROKERS.join(',') }), 'kafka-clients-bench');
  // measured from the first record handed over, as the other consumers are
  const count = counter(RECORDS);
  const server = new KafkaBatchServer({
    service: 'kafka-clients-bench',
    groupId: `${run}-server-${randomUUID().slice(0, 6)}`,
    connection,
    topicSpecs: [{ ...CATALOG['market.quotes'], topic }],
    validate: true,
    ensureDeadLetterTopics: false,
    partitionsConsumedConcurrently: PARTITIONS,
    logger: pino({ level: 'warn' }),
  });
  server.addHandler(
    topic,
    async (value: unknown) => count.seen(batch ? (value as unknown[]).length : 1),
    true,
    { [KAFKA_BATCH_HANDLER]: batch },
  );
  try {
    server.listen(() => undefined);
    return await count.figure;
  } finally {
    await server.close();
  }
}

async function createTopic(name: string): Promise<string> {
  await runKafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    BROKERS.join(','),
    '--create',
    '--topic',
    name,
    '--partitions',
    String(PARTITIONS),
  ]);
  return name;
}

/** ProducerPerformance: same record size, acks=all, idempotent, no headers (JAVA_RECORDS records). */
async function javaProducer(topic: string): Promise<Figure> {
  const started = process.hrtime.bigint();
  const brokers = BROKERS.join(',');
  const { recordsPerSecond } = await producerPerformance(brokers, topic, JAVA_RECORDS, meanValueBytes, 'none');
  return { recordsPerSecond, seconds: Number((Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)) };
}

/** ConsumerPerformance over the same topic from the beginning, in a fresh group (its fetch rate). */
async function javaConsumer(topic: string): Promise<Figure> {
  const group = `${run}-java-${randomUUID().slice(0, 6)}`;
  const { recordsPerSecond } = await consumerPerformance(BROKERS.join(','), topic, RECORDS, group);
  return { recordsPerSecond, seconds: Number((RECORDS / recordsPerSecond).toFixed(2)) };
}

/** The partition Kafka's Java producer picks for each symbol (written with keys, read back). */
async function javaPartitionOfKeys(): Promise<Map<string, number>> {
  const topic = await createTopic(`${run}-keys`);
  const libs = process.env['KAFKA_HOME_LIBS'];
  if (!libs) throw new Error('KAFKA_HOME_LIBS is not set: run tools/infra/up');
  const log4j = process.env['KAFKA_TOOLS_LOG4J'];
  const property = process.env['KAFKA_TOOLS_LOG4J_PROPERTY'] ?? 'log4j2.configurationFile';
  const child = spawn(
    'java',
    [
      '-Xmx256m',
      ...(log4j ? [`-D${property}=file:${log4j}`] : []),
      '-cp',
      `${libs}/*`,
      'org.apache.kafka.tools.ConsoleProducer',
      '--bootstrap-server',
      BROKERS.join(','),
      '--topic',
      topic,
      '--property',
      'parse.key=true',
      '--property',
      'key.separator=\t',
    ],
    { stdio: ['pipe', 'ignore', 'inherit'] },
  );
  child.stdin.end(SYMBOLS.map((symbol) => `${symbol}\t${symbol}`).join('\n') + '\n');
  await new Promise<void>((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ConsoleProducer exited ${code}`)),
    ),
  );
  const output = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
    '--bootstrap-server',
    BROKERS.join(','),
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    String(SYMBOLS.length),
    '--property',
    'print.key=true',
    '--property',
    'print.partition=true',
    '--property',
    'print.value=false',
    '--timeout-ms',
    '60000',
  ]);
  const placed = new Map<string, number>();
  for (const line of output.trim().split('\n')) {
    const match = /Partition:(\d+)\s+(\S+)/.exec(line);
    if (match) placed.set(match[2] as string, Number(match[1]));
  }
  return placed;
}

// --- the run ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const chosen = (process.env['BENCH_CLIENTS']?.split(',').filter(Boolean) ?? Object.keys(VERSIONS)) as ClientName[];
  for (const name of chosen)
    if (!(name in VERSIONS))
      throw new Error(`BENCH_CLIENTS: unknown client ${name} (known: ${Object.keys(VERSIONS).join(', ')})`);
  const notInstallable = install(chosen);
  for (const [name, reason] of notInstallable)
    console.log(`${name}@${VERSIONS[name]} does not install here:\n${reason}`);

  const results: Record<string, Figure> = {};
  const report = (name: string, figure: Figure, ceiling?: Figure) => {
    results[name] = figure;
    const cpu =
      figure.cpuMicrosPerRecord === undefined
        ? ''
        : `  ${figure.cpuMicrosPerRecord.toFixed(2).padStart(6)} µs CPU/record`;
    const ratio = ceiling
      ? `  ${((100 * figure.recordsPerSecond) / ceiling.recordsPerSecond).toFixed(0).padStart(3)}% of Java`
      : '';
    console.log(`${name.padEnd(56)} ${String(figure.recordsPerSecond).padStart(8)} records/s${cpu}${ratio}`);
  };

  console.log(
    `${RECORDS} records of ${meanValueBytes} bytes, ${PARTITIONS} partitions, acks=all, idempotent; ${IN_FLIGHT} sends of ${BATCH} in flight`,
  );
  const javaProduced = await javaProducer(await createTopic(`${run}-java`));
  report('Java ProducerPerformance (no headers)', javaProduced);
  let contractTopic = '';
  for (const validate of [true, false]) {
    const topic = await createTopic(`${run}-typed-${validate ? 'validated' : 'plain'}`);
    contractTopic ||= topic;
    report(`Tributary TypedProducer, contract headers, validation ${validate ? 'on' : 'off'}`, await typedProducer(topic, validate), javaProduced);
  }
  // The consumers read the records the typed producer wrote: contract headers and all.
  const javaConsumedContract = await javaConsumer(contractTopic);
  report('Java ConsumerPerformance (records with contract headers)', javaConsumedContract);
  report('Tributary ManagedConsumer, no decoding', await managedConsumer(contractTopic), javaConsumedContract);
  report('Tributary KafkaBatchServer, batch handler, JSON + contract check', await batchServer(contractTopic, true), javaConsumedContract);
  report('Tributary KafkaBatchServer, record handler, JSON + contract check', await batchServer(contractTopic, false), javaConsumedContract);
  const candidates = chosen.filter((name) => !notInstallable.has(name)).map((name) => FACTORIES[name]());
  let consumable: string | undefined;
  for (const candidate of candidates) {
    const plain = await createTopic(`${run}-${candidate.name.replace(/\W/g, '')}-plain`);
    consumable ??= plain;
    report(
      `${candidate.name}@${VERSIONS[candidate.name]} producer, no headers`,
      await candidate.produce(plain, false),
      javaProduced,
    );
    const withHeaders = await createTopic(`${run}-${candidate.name.replace(/\W/g, '')}-headers`);
    report(
      `${candidate.name}@${VERSIONS[candidate.name]} producer, 7 headers`,
      await candidate.produce(withHeaders, true),
      javaProduced,
    );
  }
  if (consumable) {
    const javaConsumed = await javaConsumer(consumable);
    report('Java ConsumerPerformance', javaConsumed);
    for (const candidate of candidates) {
      report(
        `${candidate.name}@${VERSIONS[candidate.name]} consumer`,
        await candidate.consume(consumable),
        javaConsumed,
      );
    }
  }

  const java = await javaPartitionOfKeys();
  const placement: Record<string, number | string> = { keys: java.size };
  for (const candidate of candidates) {
    let misplaced = 0;
    for (const [symbol, partition] of java)
      if (candidate.partitionOf(symbol, PARTITIONS) !== partition) misplaced++;
    placement[candidate.name] =
      candidate.partitionOf('x', PARTITIONS) < 0 ? 'murmur2_random (librdkafka)' : misplaced;
    console.log(
      `key placement against Java's producer, ${java.size} keys: ${candidate.name} ${placement[candidate.name]} misplaced`,
    );
  }

  const dir = join(workspaceRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'kafka-clients.json'),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        node: process.version,
        kafka: process.env['KAFKA_VERSION'],
        records: RECORDS,
        valueBytes: meanValueBytes,
        batch: BATCH,
        inFlight: IN_FLIGHT,
        versions: VERSIONS,
        notInstallable: Object.fromEntries(notInstallable),
        results,
        placement,
      },
      null,
      2,
    ),
  );
  await runKafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    BROKERS.join(','),
    '--delete',
    '--topic',
    `${run}.*`,
  ]).catch(() => undefined);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
