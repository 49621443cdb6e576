import type { ServerResponse } from 'node:http';
import { HttpException, Logger } from '@nestjs/common';
import { DependencyUnavailableError } from '../archive/archive-dependencies';
import { answer } from './http-answers';
import { BudgetExceeded } from './query-budgets';

/** What `answer` turns `error` into: its status and body. */
async function answered(
  error: unknown,
  response?: ServerResponse,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const thrown = await answer(() => Promise.reject(error), response).catch((e: unknown) => e);
  expect(thrown).toBeInstanceOf(HttpException);
  const http = thrown as HttpException;
  return { status: http.getStatus(), body: http.getResponse() as Record<string, unknown> };
}

function fakeResponse(): ServerResponse & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  return {
    headers,
    headersSent: false,
    setHeader: (name: string, value: string) => (headers[name] = value),
  } as unknown as ServerResponse & {
    headers: Record<string, string>;
  };
}

describe('HTTP answers of the archive API', () => {
  it('a 503 names the store and when to retry, never the driver message (that goes to the log)', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432 (user archive_rw)'), {
      code: 'ECONNREFUSED',
    });
    const response = fakeResponse();
    const { status, body } = await answered(new DependencyUnavailableError('postgres', cause), response);
    expect(status).toBe(503);
    expect(body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'postgres is unavailable; retry later',
      dependency: 'postgres',
      retryAfterSeconds: 5,
    });
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|archive_rw/);
    expect(response.headers['Retry-After']).toBe('5');
    expect(JSON.stringify(warn.mock.calls)).toMatch(/ECONNREFUSED/);
    warn.mockRestore();
  });

  it('a budget exceeded is a 429 naming the budget, with Retry-After when asking again can succeed', async () => {
    const response = fakeResponse();
    const busy = await answered(
      new BudgetExceeded('HISTORY_QUERY_MAX_CONCURRENT', 8, '8 queries are running', 1),
      response,
    );
    expect(busy).toEqual({
      status: 429,
      body: expect.objectContaining({
        statusCode: 429,
        budget: 'HISTORY_QUERY_MAX_CONCURRENT',
        limit: 8,
        retryAfterSeconds: 1,
      }),
    });
    expect(response.headers['Retry-After']).toBe('1');

    const tooBig = fakeResponse();
    const bytes = await answered(
      new BudgetExceeded('HISTORY_QUERY_MAX_BYTES', 1000, 'would read 5000 bytes', null, 'from'),
      tooBig,
    );
    expect(bytes.status).toBe(429);
    expect(bytes.body).toMatchObject({ budget: 'HISTORY_QUERY_MAX_BYTES', limit: 1000, parameter: 'from' });
    expect(bytes.body).not.toHaveProperty('retryAfterSeconds');
    expect(tooBig.headers['Retry-After']).toBeUndefined();
  });
});
