import type { MigrationInterface, QueryRunner } from 'typeorm';
import { quoteIdentifier } from '@tributary/postgres';

/** Quotes an SQL identifier (schema, table, slot and publication names come from configuration). */
export { quoteIdentifier };

function initialSchemaSql(schema: string): string[] {
  const s = quoteIdentifier(schema);
  const money = 'numeric(20,8)';
  const attributed = 'correlation_id text, changed_by text';
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE ${s}.orders (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      client_order_id text NOT NULL CONSTRAINT orders_client_order_id_key UNIQUE,
      account text NOT NULL,
      symbol text NOT NULL,
      side text NOT NULL CONSTRAINT orders_side_check CHECK (side IN ('buy', 'sell')),
      order_type text NOT NULL CONSTRAINT orders_type_check CHECK (order_type IN ('market', 'limit', 'stop', 'stop_limit')),
      quantity ${money} NOT NULL CONSTRAINT orders_quantity_check CHECK (quantity > 0),
      limit_price ${money},
      status text NOT NULL DEFAULT 'new'
        CONSTRAINT orders_status_check CHECK (status IN ('new', 'partially_filled', 'filled', 'cancelled', 'rejected')),
      filled_quantity ${money} NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      ${attributed}
    )`,
    `CREATE INDEX orders_symbol_created_at_idx ON ${s}.orders (symbol, created_at)`,
    `CREATE INDEX orders_account_idx ON ${s}.orders (account)`,
    `CREATE TABLE ${s}.order_fills (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      order_id bigint NOT NULL CONSTRAINT order_fills_order_id_fkey REFERENCES ${s}.orders (id) ON DELETE CASCADE,
      symbol text NOT NULL,
      quantity ${money} NOT NULL CONSTRAINT order_fills_quantity_check CHECK (quantity > 0),
      price ${money} NOT NULL CONSTRAINT order_fills_price_check CHECK (price > 0),
      fee ${money} NOT NULL DEFAULT 0,
      venue text,
      filled_at timestamptz NOT NULL,
      ${attributed}
    )`,
    `CREATE INDEX order_fills_order_id_idx ON ${s}.order_fills (order_id)`,
    `CREATE INDEX order_fills_symbol_filled_at_idx ON ${s}.order_fills (symbol, filled_at)`,
    `CREATE TABLE ${s}.trades (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      trade_ref text NOT NULL CONSTRAINT trades_trade_ref_key UNIQUE,
      order_id bigint,
      account text NOT NULL,
      symbol text NOT NULL,
      side text NOT NULL CONSTRAINT trades_side_check CHECK (side IN ('buy', 'sell')),
      quantity ${money} NOT NULL CONSTRAINT trades_quantity_check CHECK (quantity > 0),
      price ${money} NOT NULL CONSTRAINT trades_price_check CHECK (price > 0),
      fee ${money} NOT NULL DEFAULT 0,
      executed_at timestamptz NOT NULL,
      ${attributed}
    )`,
    `CREATE INDEX trades_symbol_executed_at_idx ON ${s}.trades (symbol, executed_at)`,
    `CREATE INDEX trades_account_executed_at_idx ON ${s}.trades (account, executed_at)`,
    `CREATE TABLE ${s}.positions (
      account text NOT NULL,
      symbol text NOT NULL,
      quantity ${money} NOT NULL,
      average_price ${money} NOT NULL,
      realized_pnl ${money} NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now(),
      ${attributed},
      CONSTRAINT positions_pkey PRIMARY KEY (account, symbol)
    )`,
    `CREATE INDEX positions_symbol_idx ON ${s}.positions (symbol)`,
    `CREATE TABLE ${s}.risk_limits (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account text NOT NULL,
      limit_type text NOT NULL,
      symbol text,
      limit_value ${money} NOT NULL CONSTRAINT risk_limits_limit_value_check CHECK (limit_value >= 0),
      active boolean NOT NULL DEFAULT true,
      updated_at timestamptz NOT NULL DEFAULT now(),
      ${attributed}
    )`,
    `CREATE INDEX risk_limits_account_idx ON ${s}.risk_limits (account)`,
    `CREATE UNIQUE INDEX risk_limits_account_limit_type_symbol_key ON ${s}.risk_limits (account, limit_type, symbol)`,
    `CREATE TABLE ${s}.model_predictions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      model text NOT NULL,
      model_version text NOT NULL,
      symbol text NOT NULL,
      horizon text NOT NULL,
      prediction numeric(38,18) NOT NULL,
      confidence double precision,
      inputs jsonb NOT NULL DEFAULT '{}'::jsonb,
      predicted_at timestamptz NOT NULL,
      ${attributed}
    )`,
    `CREATE INDEX model_predictions_symbol_predicted_at_idx ON ${s}.model_predictions (symbol, predicted_at)`,
    `CREATE INDEX model_predictions_model_idx ON ${s}.model_predictions (model, model_version)`,
    `CREATE TABLE ${s}.features (
      symbol text NOT NULL,
      feature_set text NOT NULL,
      as_of timestamptz NOT NULL,
      "values" jsonb NOT NULL,
      tags text[] NOT NULL DEFAULT '{}'::text[],
      computed_at timestamptz NOT NULL DEFAULT now(),
      ${attributed},
      CONSTRAINT features_pkey PRIMARY KEY (symbol, feature_set, as_of)
    )`,
    `CREATE INDEX features_symbol_computed_at_idx ON ${s}.features (symbol, computed_at)`,
    `CREATE TABLE ${s}.alerts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account text,
      symbol text,
      kind text NOT NULL,
      severity text NOT NULL CONSTRAINT alerts_severity_check CHECK (severity IN ('info', 'warning', 'critical')),
      message text NOT NULL,
      details jsonb,
      raised_at timestamptz NOT NULL DEFAULT now(),
      acknowledged_at timestamptz,
      ${attributed}
    )`,
    `CREATE INDEX alerts_symbol_raised_at_idx ON ${s}.alerts (symbol, raised_at)`,
    `CREATE INDEX alerts_account_idx ON ${s}.alerts (account)`,
    `CREATE TABLE ${s}.audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      table_name text NOT NULL,
      row_key jsonb NOT NULL,
      op text NOT NULL CONSTRAINT audit_log_op_check CHECK (op IN ('c', 'u', 'd', 'r', 't')),
      before jsonb,
      after jsonb,
      tx_id bigint,
      commit_lsn bigint NOT NULL,
      event_order integer NOT NULL,
      committed_at timestamptz NOT NULL,
      ${attributed}
    )`,
    `CREATE INDEX audit_log_table_row_key_idx ON ${s}.audit_log (table_name, row_key, committed_at)`,
    `CREATE INDEX audit_log_committed_at_idx ON ${s}.audit_log (committed_at)`,
    `CREATE UNIQUE INDEX audit_log_dedup_key ON ${s}.audit_log (commit_lsn, event_order)`,
  ];
}

const INITIAL_TABLES = [
  'audit_log',
  'alerts',
  'features',
  'model_predictions',
  'risk_limits',
  'positions',
  'trades',
  'order_fills',
  'orders',
];

/**
 * The migrations of the trading schema, bound to the schema name. TypeORM records each by `name`
 * (class name with a timestamp suffix) in `<schema>.migrations`.
 */
export function tradingSchemaMigrations(schema: string): (new () => MigrationInterface)[] {
  class TradingSchemaInitial1732406400000 implements MigrationInterface {
    readonly name = 'TradingSchemaInitial1732406400000';

    async up(runner: QueryRunner): Promise<void> {
      for (const statement of initialSchemaSql(schema)) await runner.query(statement);
    }

    async down(runner: QueryRunner): Promise<void> {
      for (const table of INITIAL_TABLES) await runner.query(`DROP TABLE ${quoteIdentifier(schema)}.${table}`);
    }
  }
  class CaptureSignals1742601600000 implements MigrationInterface {
    readonly name = 'CaptureSignals1742601600000';

    async up(runner: QueryRunner): Promise<void> {
      for (const statement of captureSignalsSql(schema)) await runner.query(statement);
    }

    async down(runner: QueryRunner): Promise<void> {
      await runner.query(`DROP TABLE ${quoteIdentifier(schema)}.cdc_resnapshots`);
      await runner.query(`DROP TABLE ${quoteIdentifier(schema)}.cdc_signals`);
    }
  }
  class SlotKafkaCluster1765152000000 implements MigrationInterface {
    readonly name = 'SlotKafkaCluster1765152000000';

    async up(runner: QueryRunner): Promise<void> {
      for (const statement of slotKafkaClusterSql(schema)) await runner.query(statement);
    }

    async down(runner: QueryRunner): Promise<void> {
      await runner.query(`DROP TABLE ${quoteIdentifier(schema)}.cdc_slot_clusters`);
    }
  }
  return [TradingSchemaInitial1732406400000, CaptureSignals1742601600000, SlotKafkaCluster1765152000000];
}

/**
 * The Kafka cluster each replication slot's positions were delivered to: a slot confirms positions
 * to PostgreSQL, so it is only right for the cluster that received what it confirmed. A start against
 * another cluster (its ID differs) re-snapshots or refuses (CDC_ON_CLUSTER_CHANGE), never resumes.
 */
function slotKafkaClusterSql(schema: string): string[] {
  return [
    `CREATE TABLE ${quoteIdentifier(schema)}.cdc_slot_clusters (
      slot_name text PRIMARY KEY,
      kafka_cluster_id text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now()
    )`,
  ];
}

/**
 * The signal table (Debezium's `signal.data.collection`: id, type, data) whose inserts reach the
 * listener through the change stream, in commit order with the other changes, and the progress of
 * each re-snapshot a signal asked for.
 */
function captureSignalsSql(schema: string): string[] {
  const s = quoteIdentifier(schema);
  return [
    `CREATE TABLE ${s}.cdc_signals (
      id text PRIMARY KEY,
      type text NOT NULL,
      data jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE ${s}.cdc_resnapshots (
      signal_id text NOT NULL,
      table_name text NOT NULL,
      status text NOT NULL CONSTRAINT cdc_resnapshots_status_check CHECK (status IN ('running', 'completed', 'failed')),
      rows_read bigint NOT NULL DEFAULT 0,
      snapshot_lsn bigint,
      started_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      error text,
      CONSTRAINT cdc_resnapshots_pkey PRIMARY KEY (signal_id, table_name)
    )`,
  ];
}
