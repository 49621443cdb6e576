import { Client } from 'pg';
import { ClusterAdmin, headerValue, kafkaConnection, parseKafkaEnv, TopicReader } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import {
  authorizedFetch,
  dropChangeCaptureObjects,
  eventually,
  unusedPort,
  type ServiceProcess,
  startService,
  waitForHttpStatus,
  stackDatabaseUrl,
} from '@tributary/testing';
import type { ChangeEvent } from '@tributary/contracts';

// The built service against the real PostgreSQL and Kafka: the slot's positions belong to the Kafka
// cluster that received them. A slot recorded for another cluster (what the slot of another local
// stack sharing the database looks like) is never resumed silently: the listener takes the initial
// snapshot again into the connected cluster, or refuses to start capture and says why.

const databaseUrl = stackDatabaseUrl();
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const run = `${process.pid}_${Date.now().toString(36)}`;
const schema = `cdc_cluster_${run}`;
const slotName = `cdc_cluster_${run}`;
const publication = `cdc_cluster_${run}`;
const prefix = `cdccluster${run.replace(/_/g, '')}`;
const transactionTopic = `${prefix}.transactions`;
const ordersTopic = `${prefix}.${schema}.orders`;
const topics = [ordersTopic, transactionTopic];
const logger = createLogger('cdc-listener-cluster-test', 'silent');
/** The cluster ID another stack's broker would have (Kafka's are 22 URL-safe base64 characters). */
const OTHER_CLUSTER = 'AnotherStacksCluster00';

interface Received {
  key: string | null;
  event: ChangeEvent.Value | null;
  idempotencyKey: string;
}

describe('cdc-listener against a Kafka cluster its slot did not deliver to (built service, real servers)', () => {
  const admin = new Client({ connectionString: databaseUrl });
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: brokers }), 'cdc-listener-cluster-test');
  const kafka = new ClusterAdmin(connection);
  const received: Received[] = [];
  const reader = new TopicReader(connection, {
    topics: [ordersTopic],
    logger,
    handle: ({ records }) => {
      for (const record of records) {
        received.push({
          key: record.key?.toString() ?? null,
          event: record.value === null ? null : (JSON.parse(record.value.toString()) as ChangeEvent.Value),
          idempotencyKey: headerValue(record.headers, 'idempotency.key') ?? '',
        });
      }
    },
  });
  let service: ServiceProcess | undefined;
  let port = 0;
  let clusterId = '';

  function start(policy: 'resnapshot' | 'refuse'): ServiceProcess {
    service = startService('cdc-listener', {
      port,
      env: {
        DATABASE_URL: databaseUrl,
        KAFKA_BROKERS: brokers,
        CDC_SCHEMA: schema,
        CDC_TABLES: 'orders',
        CDC_REPLICA_IDENTITY_FULL: 'orders',
        CDC_SLOT_NAME: slotName,
        CDC_PUBLICATION: publication,
        CDC_TOPIC_PREFIX: prefix,
        CDC_TRANSACTION_TOPIC: transactionTopic,
        CDC_STATUS_INTERVAL_MS: '500',
        CDC_ON_CLUSTER_CHANGE: policy,
        KAFKA_GROUP_ID: `cdc-cluster-${run}`,
        LOG_LEVEL: 'info',
      },
    });
    return service;
  }

  async function ready(): Promise<Record<string, unknown>> {
    const body = await waitForHttpStatus(`${service?.baseUrl}/health/ready`, 200, 90_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\n${service?.output().slice(-3000)}`);
      },
    );
    return (body as { details: Record<string, Record<string, unknown>> }).details['replication'] ?? {};
  }

  async function recordedCluster(): Promise<string | undefined> {
    const result = await admin.query<{ kafka_cluster_id: string }>(
      `SELECT kafka_cluster_id FROM "${schema}".cdc_slot_clusters WHERE slot_name = $1`,
      [slotName],
    );
    return result.rows[0]?.kafka_cluster_id;
  }

  /** What the slot of another stack looks like: positions recorded as delivered to another cluster. */
  async function recordOtherCluster(): Promise<void> {
    await admin.query(`UPDATE "${schema}".cdc_slot_clusters SET kafka_cluster_id = $2 WHERE slot_name = $1`, [
      slotName,
      OTHER_CLUSTER,
    ]);
  }

  async function insertOrder(clientOrderId: string): Promise<string> {
    const result = await admin.query<{ id: string }>(
      `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
       VALUES ($1, 'ACC-CLUSTER', 'AAPL', 'buy', 'limit', 10, 187.12345678) RETURNING id`,
      [clientOrderId],
    );
    const id = result.rows[0]?.id;
    if (!id) throw new Error('no order inserted');
    return id;
  }

  /** The info metric's sample of this slot (one line, value 1). */
  const infoLine = (metrics: string) =>
    metrics
      .split('\n')
      .filter(
        (line) =>
          line.startsWith('tributary_cdc_slot_kafka_cluster_info{') &&
          line.includes(`slot="${slotName}"`) &&
          line.endsWith(' 1'),
      )
      .join('\n');

  const reads = (id: string) => received.filter((r) => r.event?.op === 'r' && r.event.after?.['id'] === id);

  async function endOffsets(): Promise<string> {
    const partitions = await kafka.topicOffsets(ordersTopic);
    return partitions.map((p) => `${p.partition}:${p.high}`).join(',');
  }

  beforeAll(async () => {
    await admin.connect();
    port = await unusedPort();
    clusterId = (await kafka.identity()).clusterId;
  });

  afterAll(async () => {
    await service?.stop();
    await reader.stop();
    await dropChangeCaptureObjects(admin, { slot: slotName, publication, schema });
    await admin.end();
    try {
      await kafka.deleteTopics(topics);
    } finally {
      await kafka.close();
    }
  });

  it('records the cluster its slot delivers to on the first start, and shows it in readiness and metrics', async () => {
    start('resnapshot');
    const details = await ready();
    expect(details).toMatchObject({
      slot: slotName,
      streaming: true,
      positionsKafkaCluster: clusterId,
      kafkaCluster: clusterId,
    });
    expect(await recordedCluster()).toBe(clusterId);
    const metrics = await (await authorizedFetch(`${service?.baseUrl}/metrics`)).text();
    expect(infoLine(metrics)).toContain(`cluster_id="${clusterId}"`);
    expect(infoLine(metrics).split('\n')).toHaveLength(1);
    await reader.start();
    const first = await insertOrder(`cluster-${run}-1`);
    await eventually(
      () => received.some((r) => r.event?.op === 'c' && r.event.after?.['id'] === first),
      'the first order captured',
    );
    await service?.stop();
  });

  it('takes the initial snapshot again into the connected cluster when the slot delivered to another one (resnapshot)', async () => {
    const before = await admin.query<{ id: string }>(`SELECT id::text FROM "${schema}".orders ORDER BY id`);
    await recordOtherCluster();
    start('resnapshot');
    const details = await ready();
    expect(details).toMatchObject({ positionsKafkaCluster: clusterId, kafkaCluster: clusterId });
    expect(await recordedCluster()).toBe(clusterId);
    // Every row is in the topic again as a read of the new slot's initial snapshot.
    for (const { id } of before.rows)
      await eventually(() => reads(id).length > 0, `order ${id} read by the new snapshot`);
    expect(reads(before.rows[0]?.id ?? '')[0]?.idempotencyKey).toMatch(/^\d+:snapshot:orders:\d+$/);
    expect(service?.output()).toContain('the initial snapshot is taken again');
    // Then the stream goes on from the new slot.
    const second = await insertOrder(`cluster-${run}-2`);
    await eventually(
      () => received.some((r) => r.event?.op === 'c' && r.event.after?.['id'] === second),
      'an order after the re-snapshot',
    );
    await service?.stop();
  });

  it('refuses to start capture, naming both clusters and the setting, and produces nothing (refuse); deleting the record resumes from the slot', async () => {
    await recordOtherCluster();
    const offsetsBefore = await endOffsets();
    const readsBefore = received.filter((r) => r.event?.op === 'r').length;
    start('refuse');
    const replication = await eventually(
      async () => {
        const response = await authorizedFetch(`${service?.baseUrl}/health/ready`);
        const answer = (await response.json()) as { details: Record<string, Record<string, unknown>> };
        const message = String(answer.details['replication']?.['clusterChange'] ?? '');
        return response.status === 503 && message.includes('CDC_ON_CLUSTER_CHANGE=refuse')
          ? answer.details['replication']
          : undefined;
      },
      'readiness naming the refusal',
      90_000,
    );
    expect(replication).toMatchObject({
      positionsKafkaCluster: OTHER_CLUSTER,
      kafkaCluster: clusterId,
      streaming: false,
    });
    expect(String(replication?.['clusterChange'])).toContain(OTHER_CLUSTER);
    expect(String(replication?.['clusterChange'])).toContain(clusterId);
    const metrics = await (await authorizedFetch(`${service?.baseUrl}/metrics`)).text();
    expect(infoLine(metrics)).toContain(`cluster_id="${OTHER_CLUSTER}"`);

    // A change committed while capture is refused; the listener checks again at each retry and still refuses.
    const third = await insertOrder(`cluster-${run}-3`);
    const refusals = () =>
      (service?.output().match(/CDC_ON_CLUSTER_CHANGE=refuse keeps capture stopped/g) ?? []).length;
    const seen = refusals();
    await eventually(() => refusals() >= seen + 2, 'two more refusals after the insert', 120_000);
    expect(await endOffsets()).toBe(offsetsBefore);
    const slot = await admin.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slotName],
    );
    expect(slot.rows[0]).toEqual({ active: false });
    expect(await recordedCluster()).toBe(OTHER_CLUSTER);

    // The operator's way to resume from the slot into this cluster on purpose: delete the record.
    await admin.query(`DELETE FROM "${schema}".cdc_slot_clusters WHERE slot_name = $1`, [slotName]);
    await ready();
    await eventually(
      () => received.some((r) => r.event?.op === 'c' && r.event.after?.['id'] === third),
      'the change committed while refused',
      120_000,
    );
    expect(received.filter((r) => r.event?.op === 'r').length).toBe(readsBefore);
    expect(await recordedCluster()).toBe(clusterId);
  });
});
