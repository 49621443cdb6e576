import { sessionTimeouts } from './session-timeouts';

const settings = { DATABASE_STATEMENT_TIMEOUT_MS: 30_000, DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 60_000 };

describe('sessionTimeouts', () => {
  it('gives a connection both limits from the shared settings', () => {
    expect(sessionTimeouts(settings)).toEqual({
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
    });
  });

  it('leaves out the limit a connection is exempt from, so a replication stream or a snapshot reader keeps the server default', () => {
    expect(sessionTimeouts(settings, { statement: true })).toEqual({
      idle_in_transaction_session_timeout: 60_000,
    });
    expect(sessionTimeouts(settings, { idleInTransaction: true })).toEqual({ statement_timeout: 30_000 });
    expect(sessionTimeouts(settings, { statement: true, idleInTransaction: true })).toEqual({});
  });

  it('0 turns a limit off', () => {
    expect(
      sessionTimeouts({ DATABASE_STATEMENT_TIMEOUT_MS: 0, DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 0 }),
    ).toEqual({});
  });
});
