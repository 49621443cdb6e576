export { migrateSchema, quoteIdentifier } from './lib/schema-migrations';
export { QUERY_CANCELED, sessionTimeouts, type SessionTimeoutExemptions, type SessionTimeouts, type SessionTimeoutSettings } from './lib/session-timeouts';
