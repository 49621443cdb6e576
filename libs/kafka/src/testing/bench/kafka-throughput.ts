/**
 * Throughput of the typed producer and of KafkaBatchServer against the local broker:
 * `node -r @swc-node/register libs/kafka/src/testing/bench/kafka-throughput.ts [records]`
 * (SWC_NODE_PROJECT=tsconfig.base.json). Prints one JSON line per measurement; asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { CATALOG, sampleEvent, type EventOf, type TopicSpec } from '@tributary/contracts';
import { KAFKA_BATCH_HANDLER, KafkaBatchServer, TypedProducer } from '../../index';
import { eventually } from '@tributary/testing';
import { quietLogger, testConnection, TestTopics, uniqueName } from '../kafka-test-kit';

type Trade = EventOf<'market.trades'>;

async function consume(
  topic: string,
  total: number,
  label: string,
  options: { validate: boolean; batch: boolean },
): Promise<void> {
  let seen = 0;
  const server = new KafkaBatchServer({
    service: 'bench',
    groupId: uniqueName('bench'),
    connection: testConnection(),
    logger: quietLogger(),
    validate: options.validate,
    topicSpecs: [{ ...CATALOG['market.trades'], topic }],
  });
  server.addHandler(
    topic,
    async (value: unknown) => {
      seen += options.batch ? (value as unknown[]).length : 1;
    },
    true,
    { [KAFKA_BATCH_HANDLER]: options.batch },
  );
  const started = performance.now();
  await new Promise<void>((resolve) => server.listen(() => resolve()));
  await eventually(() => seen >= total, 'all records', 600_000);
  const seconds = (performance.now() - started) / 1000;
  await server.close();
  console.log(JSON.stringify({ measure: label, records: seen, seconds: +seconds.toFixed(2), perSecond: Math.round(seen / seconds) }));
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 200_000);
  const topics = new TestTopics();
  const topic = await topics.create(uniqueName('bench-trades'), 6);
  const spec: TopicSpec = { ...CATALOG['market.trades'], topic };
  const producer = new TypedProducer(testConnection(), { service: 'bench', logger: quietLogger(), validate: false });
  const symbols = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'NVDA', 'TSLA', 'AMZN', 'META', 'GOOG', 'AMD'];
  const trades: Trade[] = Array.from({ length: 1000 }, (_, index) =>
    sampleEvent('market.trades', { symbol: symbols[index % symbols.length], tradeId: `t${index}` }),
  );
  try {
    const started = performance.now();
    const sends: Promise<void>[] = [];
    for (let sent = 0; sent < total; sent += trades.length) sends.push(producer.sendTo(spec, trades));
    await Promise.all(sends);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      JSON.stringify({
        measure: 'typed producer (lz4)',
        records: total,
        seconds: +seconds.toFixed(2),
        perSecond: Math.round(total / seconds),
        recordsPerRequest: Math.round(producer.stats.records / producer.stats.requests),
      }),
    );
    await consume(topic, total, 'consumer, record handler, validation on', { validate: true, batch: false });
    await consume(topic, total, 'consumer, record handler, validation off', { validate: false, batch: false });
    await consume(topic, total, 'consumer, batch handler, validation on', { validate: true, batch: true });
  } finally {
    await producer.disconnect();
    await topics.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
