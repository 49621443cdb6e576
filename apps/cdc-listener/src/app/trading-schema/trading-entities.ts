import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/*
 * The trading tables, as TypeORM entities. The schema (default `trading`) comes from the data
 * source, so the same entities serve every deployment. Money and quantities are numeric(20,8) and
 * read back as strings (exact); times are timestamptz. `correlation_id` and `changed_by` say which
 * request and which user made the row's last change.
 */

const money = { type: 'numeric', precision: 20, scale: 8 } as const;
const optionalMoney = { ...money, nullable: true } as const;

abstract class Attributed {
  @Column({ name: 'correlation_id', type: 'text', nullable: true })
  correlationId!: string | null;

  @Column({ name: 'changed_by', type: 'text', nullable: true })
  changedBy!: string | null;
}

@Entity({ name: 'orders' })
@Index('orders_symbol_created_at_idx', ['symbol', 'createdAt'])
@Index('orders_account_idx', ['account'])
@Check('orders_side_check', `side IN ('buy', 'sell')`)
@Check('orders_quantity_check', `quantity > 0`)
@Check('orders_type_check', `order_type IN ('market', 'limit', 'stop', 'stop_limit')`)
@Check('orders_status_check', `status IN ('new', 'partially_filled', 'filled', 'cancelled', 'rejected')`)
export class Order extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'client_order_id', type: 'text', unique: true })
  clientOrderId!: string;

  @Column({ type: 'text' })
  account!: string;

  @Column({ type: 'text' })
  symbol!: string;

  @Column({ type: 'text' })
  side!: 'buy' | 'sell';

  @Column({ name: 'order_type', type: 'text' })
  orderType!: string;

  @Column(money)
  quantity!: string;

  @Column({ name: 'limit_price', ...optionalMoney })
  limitPrice!: string | null;

  @Column({ type: 'text', default: 'new' })
  status!: string;

  @Column({ name: 'filled_quantity', ...money, default: 0 })
  filledQuantity!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

@Entity({ name: 'order_fills' })
@Index('order_fills_order_id_idx', ['orderId'])
@Index('order_fills_symbol_filled_at_idx', ['symbol', 'filledAt'])
@Check('order_fills_quantity_check', `quantity > 0`)
@Check('order_fills_price_check', `price > 0`)
export class OrderFill extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'order_id', type: 'bigint' })
  orderId!: string;

  @ManyToOne(() => Order, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'order_id', foreignKeyConstraintName: 'order_fills_order_id_fkey' })
  order?: Order;

  @Column({ type: 'text' })
  symbol!: string;

  @Column(money)
  quantity!: string;

  @Column(money)
  price!: string;

  @Column({ ...money, default: 0 })
  fee!: string;

  @Column({ type: 'text', nullable: true })
  venue!: string | null;

  @Column({ name: 'filled_at', type: 'timestamptz' })
  filledAt!: Date;
}

@Entity({ name: 'trades' })
@Index('trades_symbol_executed_at_idx', ['symbol', 'executedAt'])
@Index('trades_account_executed_at_idx', ['account', 'executedAt'])
@Check('trades_side_check', `side IN ('buy', 'sell')`)
@Check('trades_quantity_check', `quantity > 0`)
@Check('trades_price_check', `price > 0`)
export class Trade extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'trade_ref', type: 'text', unique: true })
  tradeRef!: string;

  @Column({ name: 'order_id', type: 'bigint', nullable: true })
  orderId!: string | null;

  @Column({ type: 'text' })
  account!: string;

  @Column({ type: 'text' })
  symbol!: string;

  @Column({ type: 'text' })
  side!: 'buy' | 'sell';

  @Column(money)
  quantity!: string;

  @Column(money)
  price!: string;

  @Column({ ...money, default: 0 })
  fee!: string;

  @Column({ name: 'executed_at', type: 'timestamptz' })
  executedAt!: Date;
}

@Entity({ name: 'positions' })
@Index('positions_symbol_idx', ['symbol'])
export class Position extends Attributed {
  @PrimaryColumn({ type: 'text' })
  account!: string;

  @PrimaryColumn({ type: 'text' })
  symbol!: string;

  @Column(money)
  quantity!: string;

  @Column({ name: 'average_price', ...money })
  averagePrice!: string;

  @Column({ name: 'realized_pnl', ...money, default: 0 })
  realizedPnl!: string;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

@Entity({ name: 'risk_limits' })
@Index('risk_limits_account_idx', ['account'])
@Index('risk_limits_account_limit_type_symbol_key', ['account', 'limitType', 'symbol'], { unique: true })
@Check('risk_limits_limit_value_check', `limit_value >= 0`)
export class RiskLimit extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'text' })
  account!: string;

  @Column({ name: 'limit_type', type: 'text' })
  limitType!: string;

  @Column({ type: 'text', nullable: true })
  symbol!: string | null;

  @Column({ name: 'limit_value', ...money })
  limitValue!: string;

  @Column({ type: 'boolean', default: true })
  active!: boolean;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

@Entity({ name: 'model_predictions' })
@Index('model_predictions_symbol_predicted_at_idx', ['symbol', 'predictedAt'])
@Index('model_predictions_model_idx', ['model', 'modelVersion'])
export class ModelPrediction extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'text' })
  model!: string;

  @Column({ name: 'model_version', type: 'text' })
  modelVersion!: string;

  @Column({ type: 'text' })
  symbol!: string;

  @Column({ type: 'text' })
  horizon!: string;

  @Column({ type: 'numeric', precision: 38, scale: 18 })
  prediction!: string;

  @Column({ type: 'double precision', nullable: true })
  confidence!: number | null;

  @Column({ type: 'jsonb', default: () => `'{}'::jsonb` })
  inputs!: Record<string, unknown>;

  @Column({ name: 'predicted_at', type: 'timestamptz' })
  predictedAt!: Date;
}

@Entity({ name: 'features' })
@Index('features_symbol_computed_at_idx', ['symbol', 'computedAt'])
export class Feature extends Attributed {
  @PrimaryColumn({ type: 'text' })
  symbol!: string;

  @PrimaryColumn({ name: 'feature_set', type: 'text' })
  featureSet!: string;

  @PrimaryColumn({ name: 'as_of', type: 'timestamptz' })
  asOf!: Date;

  @Column({ type: 'jsonb' })
  values!: Record<string, unknown>;

  @Column({ type: 'text', array: true, default: () => `'{}'::text[]` })
  tags!: string[];

  @Column({ name: 'computed_at', type: 'timestamptz', default: () => 'now()' })
  computedAt!: Date;
}

@Entity({ name: 'alerts' })
@Index('alerts_symbol_raised_at_idx', ['symbol', 'raisedAt'])
@Index('alerts_account_idx', ['account'])
@Check('alerts_severity_check', `severity IN ('info', 'warning', 'critical')`)
export class TradingAlert extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'text', nullable: true })
  account!: string | null;

  @Column({ type: 'text', nullable: true })
  symbol!: string | null;

  @Column({ type: 'text' })
  kind!: string;

  @Column({ type: 'text' })
  severity!: 'info' | 'warning' | 'critical';

  @Column({ type: 'text' })
  message!: string;

  @Column({ type: 'jsonb', nullable: true })
  details!: Record<string, unknown> | null;

  @Column({ name: 'raised_at', type: 'timestamptz', default: () => 'now()' })
  raisedAt!: Date;

  @Column({ name: 'acknowledged_at', type: 'timestamptz', nullable: true })
  acknowledgedAt!: Date | null;
}

@Entity({ name: 'audit_log' })
@Index('audit_log_table_row_key_idx', ['tableName', 'rowKey', 'committedAt'])
@Index('audit_log_committed_at_idx', ['committedAt'])
@Index('audit_log_dedup_key', ['commitLsn', 'eventOrder'], { unique: true })
@Check('audit_log_op_check', `op IN ('c', 'u', 'd', 'r', 't')`)
export class AuditLogEntry extends Attributed {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'table_name', type: 'text' })
  tableName!: string;

  @Column({ name: 'row_key', type: 'jsonb' })
  rowKey!: Record<string, unknown>;

  @Column({ type: 'text' })
  op!: string;

  @Column({ type: 'jsonb', nullable: true })
  before!: Record<string, unknown> | null;

  @Column({ type: 'jsonb', nullable: true })
  after!: Record<string, unknown> | null;

  @Column({ name: 'tx_id', type: 'bigint', nullable: true })
  txId!: string | null;

  @Column({ name: 'commit_lsn', type: 'bigint' })
  commitLsn!: string;

  @Column({ name: 'event_order', type: 'integer' })
  eventOrder!: number;

  @Column({ name: 'committed_at', type: 'timestamptz' })
  committedAt!: Date;
}

/** A signal row (Debezium's signal table): `type` 'execute-snapshot', `data` {"data-collections": [...]}. */
@Entity({ name: 'cdc_signals' })
export class CaptureSignal {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'jsonb', nullable: true })
  data!: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}

/** Progress of the re-snapshot of one table a signal asked for. */
@Entity({ name: 'cdc_resnapshots' })
@Check('cdc_resnapshots_status_check', `status IN ('running', 'completed', 'failed')`)
export class Resnapshot {
  @PrimaryColumn({ name: 'signal_id', type: 'text' })
  signalId!: string;

  @PrimaryColumn({ name: 'table_name', type: 'text' })
  tableName!: string;

  @Column({ type: 'text' })
  status!: string;

  @Column({ name: 'rows_read', type: 'bigint', default: 0 })
  rowsRead!: string;

  @Column({ name: 'snapshot_lsn', type: 'bigint', nullable: true })
  snapshotLsn!: string | null;

  @Column({ name: 'started_at', type: 'timestamptz', default: () => 'now()' })
  startedAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;
}

export const TRADING_ENTITIES = [
  Order,
  OrderFill,
  Trade,
  Position,
  RiskLimit,
  ModelPrediction,
  Feature,
  TradingAlert,
  AuditLogEntry,
  CaptureSignal,
  Resnapshot,
];
