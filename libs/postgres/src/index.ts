export { migrateSchema, quoteIdentifier } from './lib/schema-migrations';
