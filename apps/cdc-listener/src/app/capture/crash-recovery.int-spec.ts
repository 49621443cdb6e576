import { Client } from 'pg';
import { ClusterAdmin, headerValue, kafkaConnection, parseKafkaEnv, TopicReader } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import {
  dropChangeCaptureObjects,
  eventually,
  unusedPort,
  type ServiceProcess,
  startService,
  waitForHttpStatus,
  stackDatabaseUrl,
} from '@tributary/testing';
import type { ChangeEvent } from '@tributary/contracts';

// kill -9 of the built service while several sessions commit orders back to back: after each
// restart every committed change is on Kafka, none is missing, per-row order holds, rolled-back
// transactions never show, and the only duplicates are unconfirmed transactions with equal dedup keys.

const databaseUrl = stackDatabaseUrl();
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const run = `${process.pid}_${Date.now().toString(36)}`;
const schema = `cdc_crash_${run}`;
const slotName = `cdc_crash_${run}`;
const publication = `cdc_crash_${run}`;
const prefix = `cdccrash${run.replace(/_/g, '')}`;
const transactionTopic = `${prefix}.transactions`;
const tables = ['orders', 'order_fills'];
const topics = [...tables.map((table) => `${prefix}.${schema}.${table}`), transactionTopic];
const logger = createLogger('cdc-listener-crash-test', 'silent');
const WRITERS = 3;
const CRASHES = 3;
/** Each kill comes after 20 to 80 more orders were committed; 0 to 30 more are committed while the listener is down. */
const ORDERS_BEFORE_KILL = { least: 20, spread: 60 };
const ORDERS_WHILE_DOWN = { least: 0, spread: 30 };

interface Received {
  topic: string;
  key: string | null;
  event: ChangeEvent.Value | null;
  idempotencyKey: string;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const began = Date.now();
const progress = (what: string) => process.stderr.write(`[crash test +${Date.now() - began} ms] ${what}\n`);

describe('cdc-listener killed with SIGKILL while orders are being committed (built service, real servers)', () => {
  const seed = Number(process.env['CDC_CRASH_SEED'] ?? 20250321);
  const random = seeded(seed);
  /** When to kill and restart, drawn apart from the writers' data so the schedule replays exactly. */
  const schedule = seeded(seed + 1);
  const admin = new Client({ connectionString: databaseUrl });
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: brokers }), 'cdc-listener-crash-test');
  const received: Received[] = [];
  // Every partition read from its first record, without a consumer group, the whole time the
  // listener is killed and restarted: everything it ever wrote, duplicates included.
  const reader = new TopicReader(connection, {
    topics,
    logger,
    handle: ({ topic, records }) => {
      for (const record of records) {
        received.push({
          topic,
          key: record.key?.toString() ?? null,
          event: record.value === null ? null : (JSON.parse(record.value.toString()) as ChangeEvent.Value),
          idempotencyKey: headerValue(record.headers, 'idempotency.key') ?? '',
        });
      }
    },
  });
  /** client_order_id of every committed order, with the fills its transaction inserted. */
  const committed = new Map<string, number>();
  const rolledBack = new Set<string>();
  /** Confirmed position of the slot read right after each kill: nothing before it may come twice. */
  const confirmedAtKill: bigint[] = [];
  let service: ServiceProcess | undefined;
  let port = 0;
  let writing = true;

  function env(): Record<string, string> {
    return {
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
      KAFKA_GROUP_ID: `cdc-crash-${run}`,
      LOG_LEVEL: 'warn',
    };
  }

  async function start(): Promise<void> {
    service = startService('cdc-listener', { port, env: env() });
    await waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${service?.output().slice(-3000)}`);
    });
  }

  async function slotConfirmedLsn(): Promise<bigint> {
    const result = await admin.query<{ lsn: string }>(
      `SELECT (confirmed_flush_lsn - '0/0')::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
      [slotName],
    );
    return BigInt(result.rows[0]?.lsn ?? '0');
  }

  /** One session committing orders back to back: 1-3 orders, a fill and a status update each. */
  async function writer(session: number): Promise<void> {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      for (let n = 0; writing; n++) {
        const orders = 1 + Math.floor(random() * 3);
        const ids = Array.from({ length: orders }, (_, i) => `crash-${session}-${n}-${i}`);
        const rollback = random() < 0.1;
        await client.query('BEGIN');
        await client.query(`SELECT pg_logical_emit_message(true, 'tributary.context', $1)`, [
          JSON.stringify({ correlationId: `req-${session}-${n}`, changedBy: `writer-${session}` }),
        ]);
        for (const id of ids) {
          const order = await client.query<{ id: string }>(
            `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
             VALUES ($1, 'ACC-CRASH', 'AAPL', 'buy', 'limit', 10, 187.12345678) RETURNING id`,
            [id],
          );
          await client.query(
            `INSERT INTO "${schema}".order_fills (order_id, symbol, quantity, price, filled_at) VALUES ($1, 'AAPL', 10, 187.1, now())`,
            [order.rows[0]?.id],
          );
          await client.query(
            `UPDATE "${schema}".orders SET status = 'filled', filled_quantity = 10 WHERE id = $1`,
            [order.rows[0]?.id],
          );
        }
        if (rollback) {
          await client.query('ROLLBACK');
          ids.forEach((id) => rolledBack.add(id));
        } else {
          await client.query('COMMIT');
          ids.forEach((id) => committed.set(id, 1));
        }
      }
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    await admin.connect();
    port = await unusedPort();
    await start();
    // Ready means streaming, which the listener starts only once its topics exist and have leaders.
    await reader.start();
  });

  afterAll(async () => {
    writing = false;
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

  it('after every kill -9 and restart, each committed change is on Kafka once per dedup key, in order per row, and only unconfirmed transactions come twice', async () => {
    const writers = Array.from({ length: WRITERS }, (_, session) => writer(session));
    /** Waits until `count` more orders than now are committed: the writers' progress, not time, places the kills. */
    const moreOrdersCommitted = async (count: number, what: string) => {
      const target = committed.size + count;
      await eventually(() => committed.size >= target, `${count} more orders committed ${what}`);
    };
    for (let crash = 0; crash < CRASHES; crash++) {
      const beforeKill = ORDERS_BEFORE_KILL.least + Math.floor(schedule() * ORDERS_BEFORE_KILL.spread);
      await moreOrdersCommitted(beforeKill, `before kill #${crash + 1}`);
      const killed = service;
      progress(`kill -9 #${crash + 1} with ${committed.size} orders committed`);
      killed?.child.kill('SIGKILL');
      await killed?.exited;
      // The walsender notices the dead peer at once; what the slot holds now is what was confirmed.
      await eventually(async () => {
        const active = await admin.query(
          'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active',
          [slotName],
        );
        return active.rowCount === 0;
      }, 'slot released by the killed listener');
      confirmedAtKill.push(await slotConfirmedLsn());
      await moreOrdersCommitted(
        ORDERS_WHILE_DOWN.least + Math.floor(schedule() * ORDERS_WHILE_DOWN.spread),
        'while the listener is down',
      );
      progress('restarting');
      await start();
      progress('ready again');
    }
    writing = false;
    await Promise.all(writers);
    progress(`writers stopped: ${committed.size} orders committed, ${rolledBack.size} rolled back`);

    const changeRecords = () =>
      received.filter((message) => message.event !== null && message.topic !== transactionTopic);
    const createdOrders = () =>
      new Set(
        changeRecords()
          .filter((message) => message.topic.endsWith('.orders') && message.event?.op === 'c')
          .map((message) => String(message.event?.after?.['client_order_id'])),
      );
    /** Distinct changes (by dedup key) on Kafka that `matches`. */
    const distinct = (matches: (message: Received) => boolean) =>
      new Set(
        changeRecords()
          .filter(matches)
          .map((message) => message.idempotencyKey),
      ).size;
    const expectedOrders = [...committed.keys()];
    await eventually(
      () => {
        const created = createdOrders();
        return (
          expectedOrders.every((id) => created.has(id)) &&
          distinct((message) => message.topic.endsWith('.order_fills')) >= expectedOrders.length &&
          distinct((message) => message.topic.endsWith('.orders') && message.event?.op === 'u') >=
            expectedOrders.length
        );
      },
      'every committed order, its fill and its update on Kafka',
      90_000,
    ).catch(() => undefined); // the assertions below say which are missing
    progress(`${received.length} records received`);
    const changes = changeRecords();

    expect(committed.size).toBeGreaterThan(50);
    expect(confirmedAtKill).toHaveLength(CRASHES);

    // Nothing missing: every committed order, its fill and its update; nothing rolled back.
    const created = createdOrders();
    const missing = [...committed.keys()].filter((id) => !created.has(id));
    expect({ missing: missing.length, first: missing.slice(0, 5) }).toEqual({ missing: 0, first: [] });
    expect([...rolledBack].filter((id) => created.has(id))).toEqual([]);
    const byKey = new Map<string, Received[]>();
    for (const message of changes) {
      const list = byKey.get(message.idempotencyKey) ?? [];
      list.push(message);
      byKey.set(message.idempotencyKey, list);
    }
    const unique = [...byKey.values()].map((list) => list[0] as Received);
    const fills = unique.filter((message) => message.topic.endsWith('.order_fills'));
    const updates = unique.filter(
      (message) => message.topic.endsWith('.orders') && message.event?.op === 'u',
    );
    expect(fills).toHaveLength(created.size);
    expect(updates).toHaveLength(created.size);

    // Duplicates: the same event under the same key, and only from transactions not yet confirmed at a kill.
    for (const [key, list] of byKey) {
      if (list.length === 1) continue;
      const commitLsn = BigInt(key.split(':')[0] as string);
      // Equal but for ts_ms/ts_us (when the listener processed it, as in Debezium) and the first
      // element of source.sequence (the previous commit seen by this process: null after a restart).
      const [first, ...again] = list.map(({ event }) => ({
        ...event,
        ts_ms: 0,
        ts_us: 0,
        source: { ...event?.source, sequence: (JSON.parse(event?.source.sequence ?? '[]') as unknown[])[1] },
      }));
      for (const event of again) expect(event).toEqual(first);
      expect(confirmedAtKill.some((confirmed) => commitLsn >= confirmed)).toBe(true);
    }

    // Per-row order: after dropping duplicates, each order is created before it is filled.
    const seen = new Set<string>();
    const opsPerOrder = new Map<string, string[]>();
    for (const message of changes.filter((m) => m.topic.endsWith('.orders'))) {
      if (seen.has(message.idempotencyKey)) continue;
      seen.add(message.idempotencyKey);
      const ops = opsPerOrder.get(message.key ?? '') ?? [];
      ops.push(message.event?.op ?? '?');
      opsPerOrder.set(message.key ?? '', ops);
    }
    const outOfOrder = [...opsPerOrder].filter(([, ops]) => ops.join('') !== 'cu');
    expect(outOfOrder).toEqual([]);

    // The audit trail, written before each confirm, has every change once despite the replays.
    const expected = { created: created.size, filled: created.size, updated: created.size };
    const audited = await eventually(async () => {
      const counts = await admin.query<{ created: number; filled: number; updated: number }>(
        `SELECT count(*) FILTER (WHERE table_name = 'orders' AND op = 'c')::int AS created,
                  count(*) FILTER (WHERE table_name = 'order_fills' AND op = 'c')::int AS filled,
                  count(*) FILTER (WHERE table_name = 'orders' AND op = 'u')::int AS updated
             FROM "${schema}".audit_log`,
      );
      const row = counts.rows[0];
      return row && row.created === expected.created && row.updated === expected.updated ? row : undefined;
    }, 'audit trail complete').catch(() => undefined);
    expect(audited).toEqual(expected);
  }, 300_000);
});
