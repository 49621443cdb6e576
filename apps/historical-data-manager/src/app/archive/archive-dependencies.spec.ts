import { asPostgresOutage, DependencyUnavailableError, isPostgresUnavailable } from './archive-dependencies';

describe('which PostgreSQL failures mean the server is away', () => {
  it('network errors, connection exceptions, shutdowns and lost connections are outages', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isPostgresUnavailable(refused)).toBe(true);
    expect(isPostgresUnavailable(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(isPostgresUnavailable(Object.assign(new Error('connection failure'), { code: '08006' }))).toBe(true);
    expect(isPostgresUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    // TypeORM wraps the driver's error
    expect(isPostgresUnavailable({ message: 'query failed', driverError: refused })).toBe(true);
  });

  it('errors of the statement itself are not outages: they are thrown as they are', () => {
    const missing = Object.assign(new Error('relation "files" does not exist'), { code: '42P01' });
    expect(isPostgresUnavailable(missing)).toBe(false);
    expect(asPostgresOutage(missing)).toBe(missing);
  });

  it('an outage names the store and keeps the cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const outage = asPostgresOutage(cause) as DependencyUnavailableError;
    expect(outage).toBeInstanceOf(DependencyUnavailableError);
    expect(outage.dependency).toBe('postgres');
    expect(outage.message).toBe('PostgreSQL unavailable: connect ECONNREFUSED');
    expect(outage.cause).toBe(cause);
  });
});
