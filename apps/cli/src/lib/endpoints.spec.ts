import { resolveEndpoints } from './endpoints';

describe('where the CLI finds each service and the key', () => {
  it('defaults to the local ports on 127.0.0.1 and no key', () => {
    const { urls, apiKey } = resolveEndpoints({}, {}, undefined);
    expect(urls['kafka-gateway']).toBe('http://127.0.0.1:3102');
    expect(urls['historical-data-manager']).toBe('http://127.0.0.1:3105');
    expect(apiKey).toBeUndefined();
  });

  it('takes flags over the environment over the config file', () => {
    const file = { apiKey: 'file-key', host: 'file-host', urls: { 'cep-engine': 'http://file-cep:1' } };
    const env = { TRIBUTARY_API_KEY: 'env-key', TRIBUTARY_CEP_ENGINE_URL: 'http://env-cep:2' };
    expect(resolveEndpoints({}, {}, file)).toMatchObject({
      apiKey: 'file-key',
      urls: { 'cep-engine': 'http://file-cep:1', 'kafka-gateway': 'http://file-host:3102' },
    });
    expect(resolveEndpoints({}, env, file)).toMatchObject({
      apiKey: 'env-key',
      urls: { 'cep-engine': 'http://env-cep:2' },
    });
    expect(resolveEndpoints({ apiKey: 'flag-key', cepUrl: 'http://flag-cep:3/' }, env, file)).toMatchObject({
      apiKey: 'flag-key',
      urls: { 'cep-engine': 'http://flag-cep:3' },
    });
  });

  it('puts every service on its own port of one --host, unless the host names a port', () => {
    expect(resolveEndpoints({ host: 'ops.example.com' }, {}, undefined).urls['historical-data-manager']).toBe(
      'http://ops.example.com:3105',
    );
    expect(
      resolveEndpoints({ host: 'https://ops.example.com:8443' }, {}, undefined).urls['kafka-gateway'],
    ).toBe('https://ops.example.com:8443');
  });

  it('refuses a URL that is not http(s) as a usage error naming where it came from', () => {
    expect(() => resolveEndpoints({}, { TRIBUTARY_KAFKA_GATEWAY_URL: 'ftp://x' }, undefined)).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: expect.stringContaining('kafka-gateway from the environment'),
      }),
    );
  });
});
