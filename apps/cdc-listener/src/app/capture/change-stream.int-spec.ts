import { Client } from 'pg';
import {
  ClusterAdmin,
  decodeHeaders,
  headerValue,
  kafkaConnection,
  parseKafkaEnv,
  TopicReader,
  TypedProducer,
} from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { dropChangeCaptureObjects, eventually, stackDatabaseUrl } from '@tributary/testing';
import type { ChangeEvent, TransactionBoundary } from '@tributary/contracts';
import { migrateTradingSchema } from '../trading-schema/trading-database';
import { ChangePublisher } from './change-publisher';
import { ChangeStream } from './change-stream';
import { UNAVAILABLE_VALUE } from './column-values';
import type { CapturedTransaction } from './transaction-assembler';

const databaseUrl = stackDatabaseUrl();
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const run = `${process.pid}_${Date.now().toString(36)}`;
const schema = `cdc_test_${run}`;
const slotName = `cdc_test_${run}`;
const publication = `cdc_test_${run}`;
const prefix = `cdctest${run.replace(/_/g, '')}`;
const transactionTopic = `${prefix}.transactions`;
const logger = createLogger('cdc-listener-test', 'silent');
const STATUS_INTERVAL_MS = 500;

/** Waits until `find` finds something, and returns it. */
async function found<T>(find: () => T | undefined | Promise<T | undefined>, what = 'record'): Promise<T> {
  return (await eventually(find, what)) as T;
}

interface Received {
  topic: string;
  key: string | null;
  value: unknown;
  idempotencyKey: string | undefined;
  headers: Record<string, string>;
}

describe('change capture from PostgreSQL to Kafka (real servers)', () => {
  const admin = new Client({ connectionString: databaseUrl });
  const kafkaConfig = parseKafkaEnv({ KAFKA_BROKERS: brokers });
  const connection = kafkaConnection(kafkaConfig, 'cdc-listener-test');
  const producer = new TypedProducer(connection, { service: 'cdc-listener-test', logger, lingerMs: 2 });
  const kafkaAdmin = new ClusterAdmin(connection);
  const received: Received[] = [];
  const topics = [
    ...['orders', 'order_fills', 'model_predictions', 'features'].map((table) => `${prefix}.${schema}.${table}`),
    transactionTopic,
  ];
  // Every partition read from its first record, without a consumer group (nothing committed, nothing
  // to clean up but the topics): what the publisher wrote, as any reader of the topics sees it.
  const reader = new TopicReader(connection, {
    topics,
    logger,
    handle: ({ topic, records }) => {
      for (const record of records) {
        received.push({
          topic,
          key: record.key?.toString() ?? null,
          value: record.value === null ? null : JSON.parse(record.value.toString()),
          idempotencyKey: headerValue(record.headers, 'idempotency.key'),
          headers: decodeHeaders(record.headers),
        });
      }
    },
  });
  let stream: ChangeStream | undefined;
  let running: Promise<void> | undefined;

  function startStream(deliver?: ChangePublisher['publish']): void {
    const publisher = new ChangePublisher(producer, {
      topicPrefix: prefix,
      transactionTopic,
      tombstonesOnDelete: true,
      validate: true,
    });
    stream = new ChangeStream({
      databaseUrl,
      schema,
      tables: ['orders', 'order_fills', 'model_predictions', 'features'],
      replicaIdentityFull: ['orders', 'order_fills', 'model_predictions', 'features'],
      slotName,
      publication,
      serverName: prefix,
      version: 'test',
      statusIntervalMs: STATUS_INTERVAL_MS,
      logger,
      deliver: deliver ?? ((transaction) => publisher.publish(transaction)),
    });
    const current = stream;
    running = current
      .prepare(admin)
      .then(() => current.run())
      .catch(() => undefined);
  }

  async function slotConfirmedLsn(): Promise<string> {
    const result = await admin.query<{ lsn: string }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slotName],
    );
    return result.rows[0]?.lsn ?? '';
  }

  /** When the listener sent the last status update the server processed (epoch ms, by its own clock), or 0. */
  async function lastStatusSentAt(): Promise<number> {
    const result = await admin.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM r.reply_time) * 1000)::float8 AS ms
         FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
        WHERE s.slot_name = $1`,
      [slotName],
    );
    return result.rows[0]?.ms ?? 0;
  }

  beforeAll(async () => {
    await admin.connect();
    await migrateTradingSchema(databaseUrl, schema);
    await kafkaAdmin.ensureConfigs(topics.map((topic) => ({ topic, numPartitions: 1 })));
    await reader.start();
    startStream();
    await eventually(() => stream?.streaming, 'streaming');
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

  it('publishes an insert, update and delete of one transaction in commit order, with BEGIN/END and per-table counts', async () => {
    await admin.query('BEGIN');
    await admin.query(
      `SELECT pg_logical_emit_message(true, 'tributary.context', '{"correlationId":"req-42","changedBy":"alice"}')`,
    );
    const order = await admin.query<{ id: string }>(
      `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
       VALUES ('co-1', 'ACC1', 'AAPL', 'buy', 'limit', 10, 187.12345678) RETURNING id`,
    );
    const id = order.rows[0].id;
    await admin.query(`UPDATE "${schema}".orders SET status = 'cancelled' WHERE id = $1`, [id]);
    await admin.query(`DELETE FROM "${schema}".orders WHERE id = $1`, [id]);
    await admin.query('COMMIT');

    const topic = `${prefix}.${schema}.orders`;
    const rows = await found(() => {
      const found = received.filter((record) => record.topic === topic);
      return found.length >= 4 ? found : undefined;
    });
    const [created, updated, deleted, tombstone] = rows as [Received, Received, Received, Received];
    const c = created.value as ChangeEvent.Value;
    const u = updated.value as ChangeEvent.Value;
    const d = deleted.value as ChangeEvent.Value;
    expect([c.op, u.op, d.op]).toEqual(['c', 'u', 'd']);
    expect(created.key).toBe(JSON.stringify({ id }));
    expect(c.after).toMatchObject({
      id,
      quantity: '10.00000000',
      limit_price: '187.12345678',
      status: 'new',
    });
    expect(u.before).toMatchObject({ status: 'new' });
    expect(u.after).toMatchObject({ status: 'cancelled' });
    expect(d.before).toMatchObject({ id, status: 'cancelled' });
    expect(tombstone).toMatchObject({ key: created.key, value: null });
    expect(c.source).toMatchObject({
      connector: 'postgresql',
      name: prefix,
      schema,
      table: 'orders',
      snapshot: 'false',
    });
    expect([c, u, d].map((event) => event.transaction?.total_order)).toEqual([1, 2, 3]);
    expect(new Set([c, u, d].map((event) => event.transaction?.id)).size).toBe(1);
    expect(created.idempotencyKey).toMatch(/^\d+:1$/);
    // The headers every Tributary record carries, and the transaction's context.
    expect(created.headers).toEqual({
      'schema.name': 'ChangeEvent',
      'schema.version': '1',
      'event.time': String(BigInt(c.source.ts_us ?? 0) * 1000n),
      producer: producer.producerId,
      'correlation.id': 'req-42',
      'idempotency.key': created.idempotencyKey,
      'changed.by': 'alice',
    });
    expect(tombstone.headers).toEqual({ 'idempotency.key': `${deleted.idempotencyKey}:tombstone` });

    const boundaries = await found(() => {
      const found = received.filter((record) => record.topic === transactionTopic);
      return found.length >= 2 ? found.map((record) => record.value as TransactionBoundary.Value) : undefined;
    });
    expect(boundaries[0]).toMatchObject({ status: 'BEGIN', id: c.transaction?.id });
    expect(boundaries[1]).toMatchObject({
      status: 'END',
      id: c.transaction?.id,
      event_count: 3,
      data_collections: [{ data_collection: `${schema}.orders`, event_count: 3 }],
    });
  });

  it('keeps a numeric(38,18), a timestamp with microseconds, jsonb, arrays and nulls exactly', async () => {
    await admin.query(
      `INSERT INTO "${schema}".model_predictions (model, model_version, symbol, horizon, prediction, confidence, inputs, predicted_at)
       VALUES ('vol', 'v1', 'SPY', '1d', 12345678901234567890.123456789012345678, NULL, '{"a":[1,2],"b":{"c":"d"}}', '2025-03-21T14:30:00.123456Z')`,
    );
    await admin.query(
      `INSERT INTO "${schema}".features (symbol, feature_set, as_of, "values", tags) VALUES ('SPY', 'fs', '2025-03-21T14:30:00.000001Z', '{"x":1.5}', ARRAY['a b', NULL, 'c'])`,
    );
    const prediction = await found(() =>
      received.find((record) => record.topic === `${prefix}.${schema}.model_predictions`),
    );
    const after = (prediction.value as ChangeEvent.Value).after;
    expect(after).toMatchObject({
      prediction: '12345678901234567890.123456789012345678',
      confidence: null,
      inputs: { a: [1, 2], b: { c: 'd' } },
      predicted_at: '2025-03-21T14:30:00.123456Z',
    });
    const feature = await found(() =>
      received.find((record) => record.topic === `${prefix}.${schema}.features`),
    );
    expect((feature.value as ChangeEvent.Value).after).toMatchObject({
      as_of: '2025-03-21T14:30:00.000001Z',
      values: { x: 1.5 },
      tags: ['a b', null, 'c'],
    });
    expect(feature.key).toBe(
      JSON.stringify({ symbol: 'SPY', feature_set: 'fs', as_of: '2025-03-21T14:30:00.000001Z' }),
    );
  });

  it('marks an unchanged TOASTed column instead of writing null', async () => {
    const big = 'x'.repeat(300_000);
    await admin.query(`ALTER TABLE "${schema}".features REPLICA IDENTITY DEFAULT`);
    await admin.query(
      `INSERT INTO "${schema}".features (symbol, feature_set, as_of, "values") VALUES ('QQQ', 'toast', now(), jsonb_build_object('blob', $1::text))`,
      [big],
    );
    await admin.query(`UPDATE "${schema}".features SET tags = ARRAY['t'] WHERE symbol = 'QQQ'`);
    const update = await found(() =>
      received.find(
        (record) =>
          record.topic === `${prefix}.${schema}.features` &&
          (record.value as ChangeEvent.Value | null)?.op === 'u',
      ),
    );
    expect((update.value as ChangeEvent.Value).after?.['values']).toBe(UNAVAILABLE_VALUE);
  });

  it('never confirms a transaction Kafka did not acknowledge: after a restart it is delivered again with the same dedup key', async () => {
    await eventually(async () => (stream?.confirmed ?? 0n) > 0n, 'a first confirmed position');
    await stream?.stop();
    await running;
    // A stream whose Kafka writes never complete: the commit must not be confirmed.
    let lostHandedOverAt = 0;
    const isLost = (transaction: CapturedTransaction) =>
      transaction.changes.some((change) => change.value.after?.['client_order_id'] === 'co-lost');
    startStream((transaction) => {
      if (isLost(transaction)) lostHandedOverAt = Date.now();
      return new Promise<void>(() => undefined);
    });
    await eventually(() => stream?.streaming, 'streaming');
    const walBefore = (await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]
      .lsn;
    await admin.query(
      `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity) VALUES ('co-lost', 'ACC2', 'MSFT', 'sell', 'market', 5)`,
    );
    await eventually(() => lostHandedOverAt > 0, 'the transaction handed to the Kafka writer');
    // Several status updates sent after the stream held the transaction have reached the server.
    await eventually(
      async () => (await lastStatusSentAt()) >= lostHandedOverAt + 3 * STATUS_INTERVAL_MS,
      'status updates from three intervals after the transaction was handed over',
    );
    const confirmedBefore = await slotConfirmedLsn();
    // Idle WAL before the transaction may be confirmed (keepalives); the transaction's commit may not.
    const notPast = await admin.query<{ ok: boolean }>('SELECT $1::pg_lsn <= $2::pg_lsn AS ok', [
      confirmedBefore,
      walBefore,
    ]);
    expect(notPast.rows[0].ok).toBe(true);
    await stream?.stop();
    await running;

    startStream();
    const redelivered = await found(() =>
      received.find(
        (record) =>
          record.topic === `${prefix}.${schema}.orders` &&
          (record.value as ChangeEvent.Value | null)?.after?.['client_order_id'] === 'co-lost',
      ),
    );
    expect(redelivered.idempotencyKey).toMatch(/^\d+:1$/);
    await eventually(async () => (await slotConfirmedLsn()) !== confirmedBefore, 'slot advanced');
  });
});
