import { ConfigError, loadConfigOrExit, mergeSpecs, parseEnv } from './env-spec';
import { env } from './env';
import { serviceEnv } from './common-env';

const spec = {
  PORT: env.port({ default: 3101, description: 'HTTP port' }),
  KAFKA_BROKERS: env.hostPorts({ description: 'bootstrap servers' }),
  API_TOKEN: env.string({ description: 'token', secret: true }),
  BATCH: env.int({ default: 100, min: 1, max: 10_000, description: 'batch size' }),
  VERBOSE: env.bool({ default: false, description: 'verbose' }),
  LINGER: env.durationMs({ default: '5ms', description: 'linger' }),
  MODE: env.oneOf(['simulator', 'alpaca'] as const, { default: 'simulator', description: 'source' }),
  SYMBOLS: env.list({ default: 'SPY,QQQ', minItems: 1, description: 'underlyings' }),
  CA_FILE: env.optionalString({ description: 'optional CA' }),
};

function issuesOf(source: Record<string, string>): { variable: string; message: string }[] {
  try {
    parseEnv(spec, source);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

describe('environment configuration', () => {
  it('gives typed values with defaults applied', () => {
    const config = parseEnv(spec, { KAFKA_BROKERS: '127.0.0.1:9092, kafka-1:9092', API_TOKEN: 't' });
    expect(config).toEqual({
      PORT: 3101,
      KAFKA_BROKERS: ['127.0.0.1:9092', 'kafka-1:9092'],
      API_TOKEN: 't',
      BATCH: 100,
      VERBOSE: false,
      LINGER: 5,
      MODE: 'simulator',
      SYMBOLS: ['SPY', 'QQQ'],
      CA_FILE: undefined,
    });
  });

  it('reports every bad or missing variable by name in one error', () => {
    const issues = issuesOf({ KAFKA_BROKERS: 'not-a-broker', PORT: '70000', BATCH: 'ten', MODE: 'csv' });
    expect(issues.map((issue) => issue.variable).sort()).toEqual(['API_TOKEN', 'BATCH', 'KAFKA_BROKERS', 'MODE', 'PORT']);
    expect(issues.find((issue) => issue.variable === 'KAFKA_BROKERS')?.message).toContain('host:port');
    expect(issues.find((issue) => issue.variable === 'API_TOKEN')?.message).toContain('required');
    expect(issues.find((issue) => issue.variable === 'MODE')?.message).toContain('simulator, alpaca');
  });

  it('never echoes the value of a secret variable in an error', () => {
    const secretSpec = { PASSWORD: env.int({ description: 'p', secret: true }) };
    expect(() => parseEnv(secretSpec, { PASSWORD: 'hunter2' })).toThrow(ConfigError);
    try {
      parseEnv(secretSpec, { PASSWORD: 'hunter2' });
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('hunter2');
    }
  });

  it('accepts durations with units', () => {
    const durations = { D: env.durationMs({ description: 'd' }) };
    expect(parseEnv(durations, { D: '2m' }).D).toBe(120_000);
    expect(parseEnv(durations, { D: '1500' }).D).toBe(1500);
    expect(() => parseEnv(durations, { D: 'soon' })).toThrow(/D: must be a duration/);
  });

  it('refuses a duration outside its bounds, naming the bound', () => {
    const bounded = { SESSION: env.durationMs({ default: '30s', min: 6_000, max: 300_000, description: 's' }) };
    expect(parseEnv(bounded, { SESSION: '6s' }).SESSION).toBe(6_000);
    expect(() => parseEnv(bounded, { SESSION: '5s' })).toThrow(/SESSION: must be at least 6000 ms/);
    expect(() => parseEnv(bounded, { SESSION: '6m' })).toThrow(/SESSION: must be at most 300000 ms/);
  });

  it('treats an empty variable as unset', () => {
    expect(parseEnv(spec, { KAFKA_BROKERS: '127.0.0.1:9092', API_TOKEN: 'x', PORT: '  ' }).PORT).toBe(3101);
  });

  it('merges service and component specs', () => {
    const merged = mergeSpecs(serviceEnv(3105), { EXTRA: env.string({ default: 'x', description: 'e' }) });
    expect(Object.keys(merged)).toEqual(expect.arrayContaining(['PORT', 'LOG_LEVEL', 'INSTANCE_ID', 'EXTRA']));
    expect(parseEnv(merged, {}).PORT).toBe(3105);
  });

  it('exits with status 1 and names the variable when the configuration is invalid', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(() => loadConfigOrExit('options-collector', spec, { KAFKA_BROKERS: 'nope', API_TOKEN: 'x' })).toThrow(
      'exit 1',
    );
    const written = stderr.mock.calls.map((call) => String(call[0])).join('');
    expect(written).toContain('KAFKA_BROKERS');
    expect(JSON.parse(written.split('\n')[0])).toMatchObject({ level: 'fatal', service: 'options-collector' });
    exit.mockRestore();
    stderr.mockRestore();
  });
});

describe('checks that span several variables', () => {
  const sasl = {
    MECHANISM: env.oneOf(['none', 'scram-sha-256'] as const, { default: 'none', description: 'm' }),
    PASSWORD: env.optionalString({ description: 'p', secret: true }),
  };

  it('reports the variable to fix when a combination is inconsistent', () => {
    const check = (config: { MECHANISM: string; PASSWORD: string | undefined }) =>
      config.MECHANISM !== 'none' && !config.PASSWORD
        ? [{ variable: 'PASSWORD', message: 'is required with a SASL mechanism' }]
        : [];
    expect(() => parseEnv(sasl, { MECHANISM: 'scram-sha-256' }, check)).toThrow(/PASSWORD: is required with a SASL/);
    expect(parseEnv(sasl, { MECHANISM: 'scram-sha-256', PASSWORD: 's' }, check).PASSWORD).toBe('s');
  });
});
