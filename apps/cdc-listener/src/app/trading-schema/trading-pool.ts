import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { sessionTimeouts } from '@tributary/postgres';
import type { CdcListenerConfig } from '../../config';
import { CDC_CONFIG } from '../capture/change-capture.service';
import { quoteIdentifier } from './trading-migrations';

/** A small connection pool on the trading schema for the HTTP APIs (audit trail, snapshot signals). */
@Injectable()
export class TradingPool implements OnApplicationShutdown {
  private readonly pool: Pool;
  private readonly primaryKeys = new Map<string, readonly string[]>();
  readonly schema: string;

  constructor(@Inject(CDC_CONFIG) config: CdcListenerConfig) {
    this.schema = config.CDC_SCHEMA;
    this.pool = new Pool({ connectionString: config.DATABASE_URL, max: 4, application_name: 'cdc-listener:api', ...sessionTimeouts(config) });
    this.pool.on('error', () => undefined);
  }

  /** `"<schema>"."<table>"`. */
  relation(table: string): string {
    return `${quoteIdentifier(this.schema)}.${quoteIdentifier(table)}`;
  }

  async query<R extends QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(text, values)).rows;
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Primary key columns of a table of the schema, in key order. */
  async primaryKeyOf(table: string): Promise<readonly string[]> {
    let columns = this.primaryKeys.get(table);
    if (!columns) {
      const rows = await this.query<{ column: string }>(
        `SELECT a.attname AS column
           FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
          WHERE i.indisprimary AND n.nspname = $1 AND c.relname = $2 ORDER BY k.ordinality`,
        [this.schema, table],
      );
      columns = rows.map((row) => row.column);
      this.primaryKeys.set(table, columns);
    }
    return columns;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
