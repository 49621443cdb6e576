import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Compression } from '@tributary/contracts';
import { eventually, KAFKA_TOOL_TIMEOUT_MS, runKafkaTool } from '@tributary/testing';
import {
  quietLogger,
  startTestServer,
  testConnection,
  TestTopics,
  uniqueName,
} from '../testing/kafka-test-kit';
import type { KafkaBatchServer } from './consumer/kafka-batch-server';
import { TypedProducer } from './producer/typed-producer';

const CODECS: readonly Compression[] = ['gzip', 'snappy', 'lz4', 'zstd'];

const brokers = (): string => process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';

interface Tick {
  readonly source: string;
  readonly seq: number;
  readonly symbol: string;
  readonly note: string;
}

describe('compression codecs against the real broker', () => {
  const topics = new TestTopics();
  const producer = new TypedProducer(testConnection(), { service: 'kafka-it', logger: quietLogger() });
  const servers: KafkaBatchServer[] = [];
  const payloadDir = mkdtempSync(join(tmpdir(), 'tributary-codecs-'));

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  afterAll(async () => {
    await producer.disconnect();
    await topics.cleanup();
  });

  function ticks(source: string, count: number): Tick[] {
    return Array.from({ length: count }, (_, seq) => ({
      source,
      seq,
      symbol: ['AAPL', 'MSFT', 'SPY'][seq % 3],
      note: 'compressible '.repeat(8),
    }));
  }

  async function consume(topic: string, expected: number): Promise<{ values: Tick[]; deadLettered: number }> {
    const values: Tick[] = [];
    let deadLettered = 0;
    const server = await startTestServer({ topic, handler: (value) => void values.push(value as Tick) });
    server.on('dead-letter', () => deadLettered++);
    servers.push(server);
    await eventually(() => values.length + deadLettered >= expected, `${expected} records of ${topic}`);
    return { values, deadLettered };
  }

  it.each(CODECS)('records our producer compressed with %s round-trip through our consumer', async (codec) => {
    const topic = await topics.create(uniqueName(`it-codec-${codec}`), 2);
    const sent = ticks('tributary', 300);
    const messages = sent.map((tick) => ({ key: tick.symbol, value: JSON.stringify(tick) }));
    // The broker decompresses every batch to validate it: an acknowledged send means it read ours.
    await producer.sendRaw(topic, messages, codec);

    const { values, deadLettered } = await consume(topic, sent.length);
    expect(deadLettered).toBe(0);
    expect(values.sort((a, b) => a.seq - b.seq)).toEqual(sent);
  });

  it.each(CODECS)('records produced by Kafka\'s own Java producer with %s are consumed without error', async (codec) => {
    const topic = await topics.create(uniqueName(`it-java-${codec}`), 1);
    const sent = ticks(`java-${codec}`, 50);
    const payloadFile = join(payloadDir, `${codec}.jsonl`);
    writeFileSync(payloadFile, sent.map((tick) => JSON.stringify(tick)).join('\n'));
    await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
      '--topic', topic,
      '--num-records', '50',
      '--payload-file', payloadFile,
      '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${brokers()}`, `compression.type=${codec}`, 'linger.ms=50', 'batch.size=65536',
    ]);

    const { values, deadLettered } = await consume(topic, 50);
    expect(deadLettered).toBe(0);
    expect(values).toHaveLength(50);
    // The tool picks a random line of the file for each record: every value must be one of them, intact.
    const known = new Set(sent.map((tick) => JSON.stringify(tick)));
    for (const value of values) expect(known.has(JSON.stringify(value))).toBe(true);
  }, KAFKA_TOOL_TIMEOUT_MS + 90_000);

  it('records our producer compressed with each codec are read by Kafka\'s own Java consumer', async () => {
    for (const codec of CODECS) {
      const topic = await topics.create(uniqueName(`it-to-java-${codec}`), 1);
      const sent = ticks(`to-java-${codec}`, 40);
      await producer.sendRaw(
        topic,
        sent.map((tick) => ({ key: tick.symbol, value: JSON.stringify(tick) })),
        codec,
      );
      const output = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
        '--bootstrap-server', brokers(),
        '--topic', topic,
        '--from-beginning',
        '--max-messages', String(sent.length),
        // exits when no record came for this long: only the group join should ever take a while
        '--timeout-ms', '90000',
      ]);
      const lines = output.split('\n').filter((line) => line.startsWith('{'));
      expect(lines.map((line) => JSON.parse(line) as Tick)).toEqual(sent);
    }
  }, CODECS.length * KAFKA_TOOL_TIMEOUT_MS);
});
