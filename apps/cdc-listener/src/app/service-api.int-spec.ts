import { readFileSync } from 'node:fs';
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
import type { ChangeEvent, TransactionBoundary } from '@tributary/contracts';

// The built service against the real PostgreSQL and Kafka: on-demand re-snapshots (HTTP and the
// signal table) placed consistently in the stream, the audit trail and its API, and a 200k-row
// transaction delivered in order with bounded memory.

const databaseUrl = stackDatabaseUrl();
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const run = `${process.pid}_${Date.now().toString(36)}`;
const schema = `cdc_api_${run}`;
const slotName = `cdc_api_${run}`;
const publication = `cdc_api_${run}`;
const prefix = `cdcapi${run.replace(/_/g, '')}`;
const transactionTopic = `${prefix}.transactions`;
const tables = ['orders', 'positions'];
const ordersTopic = `${prefix}.${schema}.orders`;
const topics = [...tables.map((table) => `${prefix}.${schema}.${table}`), transactionTopic];
const logger = createLogger('cdc-listener-api-test', 'silent');
const LARGE_TRANSACTION_ROWS = 200_000;
/** CDC_MAX_TX_EVENTS_IN_MEMORY of the listener (override to see an unbounded listener fail). */
const MAX_TX_EVENTS_IN_MEMORY = Number(process.env['CDC_TEST_MAX_TX_EVENTS'] ?? 5_000);
/** V8 heap limit of the listener: far below what a 200k-change transaction held whole takes. */
const LISTENER_HEAP_MB = 160;

interface Received {
  topic: string;
  partition: number;
  key: string | null;
  value: unknown;
  idempotencyKey: string;
}

/** Peak and current resident memory of a process, from /proc (kB). */
function memoryOf(pid: number): { peakKb: number; currentKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { peakKb: field('VmHWM'), currentKb: field('VmRSS') };
}

async function found<T>(
  find: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
  what = 'record',
): Promise<T> {
  return (await eventually(find, what, timeoutMs)) as T;
}

describe('cdc-listener APIs: re-snapshot, audit trail, large transactions (built service, real servers)', () => {
  const admin = new Client({ connectionString: databaseUrl });
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: brokers }), 'cdc-listener-api-test');
  const received: Received[] = [];
  // Every partition read from its first record, without a consumer group: everything the listener
  // wrote, with the partition each record is in (the rebuild below goes partition by partition).
  const reader = new TopicReader(connection, {
    topics,
    logger,
    handle: ({ topic, partition, records }) => {
      for (const record of records) {
        received.push({
          topic,
          partition,
          key: record.key?.toString() ?? null,
          value: record.value === null ? null : JSON.parse(record.value.toString()),
          idempotencyKey: headerValue(record.headers, 'idempotency.key') ?? '',
        });
      }
    },
  });
  let service: ServiceProcess | undefined;
  let baseUrl = '';

  async function http(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await authorizedFetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function insertOrders(client: Client, count: number, tag: string): Promise<string[]> {
    const result = await client.query<{ id: string }>(
      `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
       SELECT $1 || '-' || n, 'ACC-API', 'AAPL', 'buy', 'limit', 10, 187.12345678 FROM generate_series(1, $2) AS n RETURNING id`,
      [tag, count],
    );
    return result.rows.map((row) => row.id);
  }

  async function snapshotDone(id: string): Promise<Record<string, unknown>> {
    return found(
      async () => {
        const { body } = await http('GET', `/snapshots/${id}`);
        return body['status'] === 'completed' || body['status'] === 'failed' ? body : undefined;
      },
      90_000,
      `re-snapshot ${id} finished`,
    );
  }

  beforeAll(async () => {
    await admin.connect();
    const port = await unusedPort();
    service = startService('cdc-listener', {
      port,
      env: {
        DATABASE_URL: databaseUrl,
        KAFKA_BROKERS: brokers,
        CDC_SCHEMA: schema,
        CDC_TABLES: tables.join(','),
        CDC_REPLICA_IDENTITY_FULL: tables.join(','),
        CDC_SLOT_NAME: slotName,
        CDC_PUBLICATION: publication,
        CDC_TOPIC_PREFIX: prefix,
        CDC_TRANSACTION_TOPIC: transactionTopic,
        CDC_STATUS_INTERVAL_MS: '500',
        CDC_MAX_TX_EVENTS_IN_MEMORY: String(MAX_TX_EVENTS_IN_MEMORY),
        KAFKA_GROUP_ID: `cdc-api-${run}`,
        KAFKA_VALIDATE_EVENTS: 'false',
        LOG_LEVEL: 'warn',
        NODE_OPTIONS: `--max-old-space-size=${LISTENER_HEAP_MB}`,
      },
    });
    baseUrl = service.baseUrl;
    await waitForHttpStatus(`${baseUrl}/health/ready`, 200, 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${service?.output().slice(-3000)}`);
    });
    // Ready means streaming, which the listener starts only once its topics exist and have leaders.
    await reader.start();
  });

  afterAll(async () => {
    await service?.stop();
    await reader.stop();
    await dropChangeCaptureObjects(admin, { slot: slotName, publication, schema });
    await admin.end();
    // The listener created them; only those that exist are deleted (it may have failed before).
    const kafkaAdmin = new ClusterAdmin(connection);
    try {
      await kafkaAdmin.deleteTopics(topics);
    } finally {
      await kafkaAdmin.close();
    }
  });

  it('records every change in the audit log with its transaction context, queryable by table, key and time, a page at a time', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    await admin.query('BEGIN');
    await admin.query(
      `SELECT pg_logical_emit_message(true, 'tributary.context', '{"correlationId":"req-audit","changedBy":"carol"}')`,
    );
    const [id] = await insertOrders(admin, 1, 'audit');
    await admin.query(`UPDATE "${schema}".orders SET status = 'cancelled' WHERE id = $1`, [id]);
    await admin.query('COMMIT');
    await admin.query(`DELETE FROM "${schema}".orders WHERE id = $1`, [id]);

    const page = await found(async () => {
      const { body } = await http('GET', `/audit?table=orders&key=${id}`);
      return (body['items'] as unknown[]).length >= 3 ? body : undefined;
    });
    const items = page['items'] as Record<string, unknown>[];
    expect(items.map((item) => item['op'])).toEqual(['c', 'u', 'd']);
    expect(items[0]).toMatchObject({
      table: 'orders',
      key: { id },
      before: null,
      after: { id, limit_price: '187.12345678', status: 'new' },
      correlationId: 'req-audit',
      changedBy: 'carol',
      order: 1,
    });
    expect(items[1]).toMatchObject({ before: { status: 'new' }, after: { status: 'cancelled' }, order: 2 });
    expect(items[0]?.['commitLsn']).toBe(items[1]?.['commitLsn']);
    expect(items[0]?.['committedAt']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // The same key as JSON, the time range, and pages of one.
    const byJsonKey = await http(
      'GET',
      `/audit?table=orders&key=${encodeURIComponent(JSON.stringify({ id }))}&from=${before}`,
    );
    expect((byJsonKey.body['items'] as unknown[]).length).toBe(3);
    const first = await http('GET', `/audit?table=orders&key=${id}&limit=2`);
    expect((first.body['items'] as unknown[]).length).toBe(2);
    const second = await http(
      'GET',
      `/audit?table=orders&key=${id}&limit=2&cursor=${String(first.body['nextCursor'])}`,
    );
    expect((second.body['items'] as Record<string, unknown>[]).map((item) => item['op'])).toEqual(['d']);
    expect(second.body['nextCursor']).toBeNull();
    const future = await http(
      'GET',
      `/audit?table=orders&from=${new Date(Date.now() + 3_600_000).toISOString()}`,
    );
    expect(future.body['items']).toEqual([]);

    // The audit table's own changes are neither audited nor (not being captured) published.
    const own = await admin.query(
      `SELECT count(*)::int AS n FROM "${schema}".audit_log WHERE table_name = 'audit_log'`,
    );
    expect(own.rows[0]?.n).toBe(0);
  });

  it('answers 400 naming the parameter for a bad audit query', async () => {
    for (const [query, message] of [
      ['table=nope', /table must be one of orders, positions/],
      ['key=1', /key needs table/],
      ['from=yesterday', /from must be an ISO-8601 time/],
      ['limit=0', /limit must be an integer/],
      ['cursor=abc', /cursor is not one this API returned/],
      ['table=positions&key=1', /give key as a JSON object/],
    ] as const) {
      const response = await http('GET', `/audit?${query}`);
      expect({ query, status: response.status }).toEqual({ query, status: 400 });
      expect(String(response.body['message'])).toMatch(message);
    }
  });

  it('re-snapshots a table on POST /snapshots while writers keep changing it: the reads sit at one point of the stream and the table rebuilt from them and the later changes equals the table', async () => {
    const ids = await insertOrders(admin, 300, 'snap');
    // Two sessions keep updating the orders while the re-snapshot runs.
    let writing = true;
    let updates = 0;
    const writers = [0, 1].map(async (session) => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      for (let n = 0; writing; n++) {
        const id = ids[(n * 7 + session * 13) % ids.length];
        await client.query(
          `UPDATE "${schema}".orders SET filled_quantity = filled_quantity + 0.5, updated_at = now() WHERE id = $1`,
          [id],
        );
        updates++;
      }
      await client.end();
    });
    const moreUpdates = async (count: number, what: string) => {
      const target = updates + count;
      await eventually(() => updates >= target, `${count} more updates ${what}`);
    };
    await moreUpdates(20, 'before the re-snapshot is requested');
    const requested = await http('POST', '/snapshots', { table: 'orders' });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({
      status: expect.stringMatching(/pending|running|completed/),
      tables: [{ table: 'orders' }],
    });
    const id = String(requested.body['id']);
    const done = await snapshotDone(id);
    await moreUpdates(20, 'after the re-snapshot finished');
    writing = false;
    await Promise.all(writers);
    expect(done).toMatchObject({ status: 'completed', tables: [{ table: 'orders', status: 'completed' }] });
    const rowsRead = (done['tables'] as { rowsRead: number }[])[0]?.rowsRead ?? 0;
    const table = await admin.query<Record<string, unknown>>(`SELECT * FROM "${schema}".orders`);
    const listed = await http('GET', '/snapshots');
    expect((listed.body['items'] as { id: string }[]).map((item) => item.id)).toContain(id);

    const lastUpdate = await admin.query<{ max: string }>(
      `SELECT max(updated_at)::text AS max FROM "${schema}".orders`,
    );
    expect(lastUpdate.rows[0]?.max).toBeDefined();
    const reads = await found(() => {
      const list = received.filter(
        (record) => record.topic === ordersTopic && record.idempotencyKey.includes(`:resnapshot:${id}:`),
      );
      return list.length >= rowsRead ? list : undefined;
    });
    expect(reads).toHaveLength(rowsRead);
    expect(rowsRead).toBe(table.rows.length);
    const read = reads[0]?.value as ChangeEvent.Value;
    expect(read).toMatchObject({
      op: 'r',
      before: null,
      transaction: null,
      source: { snapshot: 'incremental', txId: null },
    });
    expect(reads[0]?.idempotencyKey).toMatch(new RegExp(`^\\d+:resnapshot:${id}:orders:\\d+$`));

    // Rebuild per partition: from each key's read, apply the later changes in partition order.
    // With the reads at the right place every later update's before-image is the rebuilt row.
    const rebuild = () => {
      const state = new Map<string, Record<string, unknown> | null>();
      const mismatches: string[] = [];
      const byPartition = new Map<number, Received[]>();
      for (const record of received.filter((r) => r.topic === ordersTopic && r.value !== null)) {
        const list = byPartition.get(record.partition) ?? [];
        list.push(record);
        byPartition.set(record.partition, list);
      }
      for (const records of byPartition.values()) {
        for (const record of records) {
          const event = record.value as ChangeEvent.Value;
          const key = record.key ?? '';
          if (record.idempotencyKey.includes(`:resnapshot:${id}:`)) state.set(key, event.after);
          else if (state.has(key)) {
            const current = state.get(key);
            if (
              (event.op === 'u' || event.op === 'd') &&
              JSON.stringify(event.before) !== JSON.stringify(current)
            ) {
              mismatches.push(
                `${key} ${event.op}: before ${JSON.stringify(event.before)} but rebuilt ${JSON.stringify(current)}`,
              );
            }
            state.set(key, event.op === 'd' ? null : event.after);
          }
        }
      }
      return { state, mismatches };
    };
    const final = await admin.query<Record<string, unknown>>(
      `SELECT id::text, filled_quantity::text, status FROM "${schema}".orders ORDER BY id`,
    );
    const rowsOf = (state: Map<string, Record<string, unknown> | null>) =>
      final.rows.map((row) => {
        const after = state.get(JSON.stringify({ id: row['id'] }));
        return { id: after?.['id'], filled_quantity: after?.['filled_quantity'], status: after?.['status'] };
      });
    // Everything committed is on Kafka once the rebuilt table has caught up with the writers' last update.
    await eventually(
      () => JSON.stringify(rowsOf(rebuild().state)) === JSON.stringify(final.rows),
      "every change committed to the orders on Kafka, the writers' last update included",
    ).catch(() => undefined); // the assertions below show the difference
    const { state, mismatches } = rebuild();
    expect(mismatches.slice(0, 3)).toEqual([]);
    expect(rowsOf(state)).toEqual(final.rows);
  });

  it('re-snapshots on a signal row inserted in SQL, reports a signal naming an unknown table as failed, and answers 400 for a table that is not captured', async () => {
    await admin.query(
      `INSERT INTO "${schema}".positions (account, symbol, quantity, average_price) VALUES ('ACC-API', 'MSFT', 5, 410.5)`,
    );
    await admin.query(
      `INSERT INTO "${schema}".cdc_signals (id, type, data) VALUES
         ('sql-signal-1', 'execute-snapshot', '{"data-collections": ["${schema}.positions"]}'),
         ('sql-signal-2', 'execute-snapshot', '{"data-collections": ["${schema}.secrets"]}')`,
    );
    const done = await snapshotDone('sql-signal-1');
    expect(done).toMatchObject({
      status: 'completed',
      tables: [{ table: 'positions', status: 'completed', rowsRead: 1 }],
    });
    const read = await found(() =>
      received.find((record) => record.idempotencyKey.includes(':resnapshot:sql-signal-1:positions:1')),
    );
    expect(read.key).toBe(JSON.stringify({ account: 'ACC-API', symbol: 'MSFT' }));
    expect((read.value as ChangeEvent.Value).after).toMatchObject({
      quantity: '5.00000000',
      average_price: '410.50000000',
    });
    const refused = await snapshotDone('sql-signal-2');
    expect(refused).toMatchObject({
      status: 'failed',
      tables: [{ status: 'failed', error: expect.stringMatching(/not a captured table/) }],
    });

    const bad = await http('POST', '/snapshots/audit_log');
    expect(bad.status).toBe(400);
    expect(String(bad.body['message'])).toMatch(/captured tables orders, positions/);
    expect((await http('POST', '/snapshots', { tabel: 'orders' })).status).toBe(400);
    expect((await http('GET', '/snapshots/no-such-request')).status).toBe(404);
  });

  it("delivers a 200k-row transaction complete and in order, with the listener's memory bounded", async () => {
    const pid = service?.child.pid ?? 0;
    const before = memoryOf(pid);
    const started = Date.now();
    await admin.query(
      `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
       SELECT 'big-' || n, 'ACC-BIG', 'AAPL', 'buy', 'limit', 10, 187.12345678 FROM generate_series(1, ${LARGE_TRANSACTION_ROWS}) AS n`,
    );
    const end = await found(
      () => {
        const record = received.find(
          (r) =>
            r.topic === transactionTopic &&
            (r.value as TransactionBoundary.Value).event_count === LARGE_TRANSACTION_ROWS,
        );
        return record?.value as TransactionBoundary.Value | undefined;
      },
      240_000,
      'END of the large transaction',
    );
    const changes = await found(
      () => {
        const list = received.filter(
          (r) => r.topic === ordersTopic && (r.value as ChangeEvent.Value | null)?.transaction?.id === end.id,
        );
        return list.length >= LARGE_TRANSACTION_ROWS ? list : undefined;
      },
      120_000,
      'every change of the large transaction',
    );
    const after = memoryOf(pid);
    process.stderr.write(
      `[large transaction] ${LARGE_TRANSACTION_ROWS} rows in ${Date.now() - started} ms; listener RSS ${Math.round(before.currentKb / 1024)} MiB before, peak ${Math.round(after.peakKb / 1024)} MiB\n`,
    );
    expect(new Set(changes.map((r) => r.idempotencyKey)).size).toBe(LARGE_TRANSACTION_ROWS);
    // In order: within each partition total_order only grows; all of 1..N are there.
    const lastOrder = new Map<number, number>();
    let outOfOrder = 0;
    for (const record of changes) {
      const order = (record.value as ChangeEvent.Value).transaction?.total_order ?? 0;
      if (order <= (lastOrder.get(record.partition) ?? 0)) outOfOrder++;
      lastOrder.set(record.partition, order);
    }
    expect(outOfOrder).toBe(0);
    const orders = changes
      .map((r) => (r.value as ChangeEvent.Value).transaction?.total_order ?? 0)
      .sort((a, b) => a - b);
    expect(orders[0]).toBe(1);
    expect(orders.at(-1)).toBe(LARGE_TRANSACTION_ROWS);
    expect(end.data_collections).toEqual([
      { data_collection: `${schema}.orders`, event_count: LARGE_TRANSACTION_ROWS },
    ]);
    const audited = await found(async () => {
      const result = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${schema}".audit_log WHERE tx_id = $1`,
        [Number(end.id.split(':')[0])],
      );
      return result.rows[0]?.n === LARGE_TRANSACTION_ROWS ? result.rows[0].n : undefined;
    });
    expect(audited).toBe(LARGE_TRANSACTION_ROWS);
    // Held whole, 200k change events do not fit in the listener's heap; in chunks they do, and the
    // listener never restarted on the way.
    expect(service?.child.exitCode).toBeNull();
    expect(service?.output()).not.toMatch(/heap out of memory|change stream failed/);
  }, 400_000);
});
