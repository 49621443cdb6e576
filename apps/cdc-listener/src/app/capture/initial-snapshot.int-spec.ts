import { Client } from 'pg';
import { ClusterAdmin, headerValue, kafkaConnection, parseKafkaEnv, TopicReader, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { dropChangeCaptureObjects, eventually, stackDatabaseUrl } from '@tributary/testing';
import type { ChangeEvent } from '@tributary/contracts';
import { migrateTradingSchema } from '../trading-schema/trading-database';
import { ChangePublisher } from './change-publisher';
import { ChangeStream } from './change-stream';

const databaseUrl = stackDatabaseUrl();
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const run = `${process.pid}_${Date.now().toString(36)}`;
const schema = `cdc_snap_${run}`;
const slotName = `cdc_snap_${run}`;
const publication = `cdc_snap_${run}`;
const prefix = `cdcsnap${run.replace(/_/g, '')}`;
const transactionTopic = `${prefix}.transactions`;
const ordersTopic = `${prefix}.${schema}.orders`;
const predictionsTopic = `${prefix}.${schema}.model_predictions`;
const topics = [ordersTopic, predictionsTopic, transactionTopic];
const logger = createLogger('cdc-listener-snapshot-test', 'silent');

interface Received {
  topic: string;
  value: ChangeEvent.Value | null;
  idempotencyKey: string;
}

describe('initial snapshot on the first start of a slot (real servers)', () => {
  const admin = new Client({ connectionString: databaseUrl });
  const kafkaConfig = parseKafkaEnv({ KAFKA_BROKERS: brokers });
  const connection = kafkaConnection(kafkaConfig, 'cdc-listener-snapshot-test');
  const producer = new TypedProducer(connection, { service: 'cdc-listener-snapshot-test', logger, lingerMs: 2 });
  const kafkaAdmin = new ClusterAdmin(connection);
  const received: Received[] = [];
  // Every partition read from its first record, without a consumer group (nothing committed, nothing
  // to clean up but the topics): what the publisher wrote, as any reader of the topics sees it.
  const reader = new TopicReader(connection, {
    topics,
    logger,
    handle: ({ topic, records }) => {
      for (const record of records) {
        received.push({
          topic,
          value: record.value === null ? null : (JSON.parse(record.value.toString()) as ChangeEvent.Value),
          idempotencyKey: headerValue(record.headers, 'idempotency.key') ?? '',
        });
      }
    },
  });
  let stream: ChangeStream | undefined;
  let running: Promise<void> | undefined;

  function newStream(): ChangeStream {
    const publisher = new ChangePublisher(producer, {
      topicPrefix: prefix,
      transactionTopic,
      tombstonesOnDelete: true,
    });
    return new ChangeStream({
      databaseUrl,
      schema,
      tables: ['orders', 'model_predictions'],
      replicaIdentityFull: ['orders', 'model_predictions'],
      slotName,
      publication,
      serverName: prefix,
      version: 'test',
      statusIntervalMs: 500,
      logger,
      initialSnapshot: true,
      deliver: (transaction) => publisher.publish(transaction),
      deliverSnapshot: (changes) => publisher.publishSnapshot(changes),
    });
  }

  beforeAll(async () => {
    await admin.connect();
    await migrateTradingSchema(databaseUrl, schema);
    await kafkaAdmin.ensureConfigs(topics.map((topic) => ({ topic, numPartitions: 1 })));
    await reader.start();
  });

  afterAll(async () => {
    await stream?.stop();
    await running;
    await reader.stop();
    await producer.disconnect();
    await dropChangeCaptureObjects(admin, { slot: slotName, publication, schema });
    await admin.end();
    await kafkaAdmin.deleteTopics(topics);
    await kafkaAdmin.close();
  });

  it('rows committed before the slot are read (op r) and rows committed during and after it are streamed, each exactly once', async () => {
    await admin.query(
      `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
       SELECT 'before-' || n, 'ACC-SNAP', 'AAPL', 'buy', 'limit', n, 187.12345678 FROM generate_series(1, 2500) AS n`,
    );
    await admin.query(
      `INSERT INTO "${schema}".model_predictions (model, model_version, symbol, horizon, prediction, confidence, inputs, predicted_at)
       VALUES ('vol-surface', '1', 'AAPL', '1d', 0.123456789012345678, 0.9, '{"iv":0.2}', '2025-03-21T14:30:00.123456Z')`,
    );
    // A second session keeps committing while the slot is created and the snapshot read.
    const writer = new Client({ connectionString: databaseUrl });
    await writer.connect();
    let writing = true;
    let written = 0;
    const writes = (async () => {
      while (writing) {
        await writer.query(
          `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity)
           VALUES ($1, 'ACC-SNAP', 'MSFT', 'sell', 'market', 1)`,
          [`during-${written + 1}`],
        );
        written++;
      }
    })();

    stream = newStream();
    const current = stream;
    running = current
      .prepare(admin)
      .then(() => current.run())
      .catch(() => undefined); // ends with the connection when the test stops the stream
    await eventually(() => current.streaming, 'streaming after the snapshot');
    // Some rows are committed after streaming began, whatever the snapshot and this machine took.
    const writtenWhenStreaming = written;
    await eventually(() => written >= writtenWhenStreaming + 20, '20 rows committed while streaming');
    writing = false;
    await writes;
    await writer.end();
    await admin.query(
      `UPDATE "${schema}".orders SET status = 'cancelled' WHERE client_order_id = 'before-1'`,
    );

    const table = await admin.query<{ client_order_id: string }>(
      `SELECT client_order_id FROM "${schema}".orders`,
    );
    const expected = table.rows.map((row) => row.client_order_id).sort();
    const orderEvents = () =>
      received.filter((message) => message.topic === ordersTopic && message.value !== null);
    await eventually(
      () => orderEvents().some((message) => message.value?.op === 'u'),
      'the update after the snapshot on Kafka',
    );

    const reads = orderEvents().filter((message) => message.value?.op === 'r');
    const creates = orderEvents().filter((message) => message.value?.op === 'c');
    const readIds = reads.map((message) => String(message.value?.after?.['client_order_id']));
    const createdIds = creates.map((message) => String(message.value?.after?.['client_order_id']));
    // No gap and no double: snapshot plus stream is the table, and no row is in both.
    expect([...readIds, ...createdIds].sort()).toEqual(expected);
    expect(readIds.filter((id) => createdIds.includes(id))).toEqual([]);
    expect(readIds.filter((id) => id.startsWith('before-'))).toHaveLength(2500);
    // The rows committed once streaming had begun came through the stream, not the snapshot.
    expect(createdIds.length).toBeGreaterThanOrEqual(20);

    // Snapshot reads look like Debezium's: op r, no before, no transaction, source.snapshot set.
    const first = reads[0]?.value;
    expect(first?.before).toBeNull();
    expect(first?.transaction).toBeNull();
    expect(first?.source.txId).toBeNull();
    expect(reads.every((message) => message.value?.source.snapshot !== 'false')).toBe(true);
    expect(new Set(reads.map((message) => message.idempotencyKey)).size).toBe(reads.length);
    expect(first?.after?.['limit_price']).toBe('187.12345678');

    // Values read by the snapshot are mapped exactly as streamed ones.
    await eventually(
      () => received.some((message) => message.topic === predictionsTopic),
      'the prediction read',
    );
    const prediction = received.find((message) => message.topic === predictionsTopic)?.value;
    expect(prediction?.op).toBe('r');
    expect(prediction?.source.snapshot).toBe('last');
    expect(prediction?.after?.['prediction']).toBe('0.123456789012345678');
    expect(prediction?.after?.['predicted_at']).toBe('2025-03-21T14:30:00.123456Z');
    expect(prediction?.after?.['inputs']).toEqual({ iv: 0.2 });

    // The stream goes on from the slot's consistent point: the update arrives as op u.
    const update = orderEvents().find((message) => message.value?.op === 'u');
    expect(update?.value?.after?.['client_order_id']).toBe('before-1');
  });
});
