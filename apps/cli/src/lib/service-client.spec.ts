import { refusal, unreachable } from './service-client';

describe('what a failed request tells the operator', () => {
  it('a 401 with a key says the service refused the key, exit 1', () => {
    const error = refusal(
      'historical-data-manager',
      'http://127.0.0.1:3105',
      401,
      '{"message":"Unauthorized"}',
      true,
    );
    expect(error.message).toBe('historical-data-manager at http://127.0.0.1:3105 refused the key (401)');
    expect(error.exitCode).toBe(1);
  });

  it('a 401 without a key says how to give one', () => {
    expect(refusal('cep-engine', 'http://h:1', 401, '', false).message).toContain('set TRIBUTARY_API_KEY');
  });

  it("other refusals carry the service's message", () => {
    const error = refusal(
      'cep-engine',
      'http://h:1',
      409,
      '{"statusCode":409,"message":"rule x exists"}',
      true,
    );
    expect(error.message).toBe('cep-engine at http://h:1 answered 409: rule x exists');
    expect(refusal('cep-engine', 'http://h:1', 403, '{"message":["needs admin"]}', true).message).toContain(
      'lacks the scope (403): needs admin',
    );
  });

  it('no answer at all is exit 3 and names the cause', () => {
    const error = unreachable(
      'kafka-gateway',
      'http://127.0.0.1:3102',
      new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }),
    );
    expect(error).toMatchObject({
      exitCode: 3,
      message: 'kafka-gateway at http://127.0.0.1:3102 is unreachable (connection refused)',
    });
  });
});
