import { LogCapture } from '../../testing/log-capture';
import { runWithCorrelationId } from '../correlation/correlation-id';
import { createLogger, REDACTED } from './logger';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('createLogger', () => {
  it('writes one JSON object per line with level name, ISO time, service and instance', () => {
    const capture = new LogCapture();
    const logger = createLogger('options-collector', 'info', {
      instance: 'collector-0',
      destination: capture,
    });
    logger.info({ symbol: 'SPY' }, 'chain selected');
    expect(capture.lines).toHaveLength(1);
    const [line] = capture.lines;
    expect(line).toMatchObject({
      level: 'info',
      service: 'options-collector',
      instance: 'collector-0',
      msg: 'chain selected',
      symbol: 'SPY',
    });
    expect(line['time']).toMatch(ISO_TIME);
  });

  it('takes the instance name from INSTANCE_ID when none is given', () => {
    const saved = process.env['INSTANCE_ID'];
    process.env['INSTANCE_ID'] = 'gateway-7f9c';
    try {
      const capture = new LogCapture();
      createLogger('kafka-gateway', 'info', { destination: capture }).info('up');
      expect(capture.lines[0]['instance']).toBe('gateway-7f9c');
    } finally {
      if (saved === undefined) delete process.env['INSTANCE_ID'];
      else process.env['INSTANCE_ID'] = saved;
    }
  });

  it('log lines written during a unit of work carry its correlation id, also after awaits', async () => {
    const capture = new LogCapture();
    const logger = createLogger('cep-engine', 'info', { destination: capture });
    await Promise.all([
      runWithCorrelationId('msg-1', async () => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        logger.info('alert emitted');
      }),
      runWithCorrelationId('msg-2', async () => {
        logger.child({ pattern: 'iv-spike' }).warn('late event');
      }),
    ]);
    logger.info('idle');
    expect(capture.withMessage('alert emitted')[0]['correlationId']).toBe('msg-1');
    expect(capture.withMessage('late event')[0]).toMatchObject({
      correlationId: 'msg-2',
      pattern: 'iv-spike',
    });
    expect(capture.withMessage('idle')[0]).not.toHaveProperty('correlationId');
  });

  it('an explicit correlationId in the log call wins and is written once', () => {
    const capture = new LogCapture();
    const raw: string[] = [];
    const logger = createLogger('cep-engine', 'info', {
      destination: { write: (line: string) => (raw.push(line), capture.write(line)) },
    });
    runWithCorrelationId('ambient', () => logger.info({ correlationId: 'explicit' }, 'replayed'));
    expect(capture.lines[0]['correlationId']).toBe('explicit');
    expect(raw[0].match(/"correlationId"/g)).toHaveLength(1);
  });

  it('secrets never reach the log: passwords, secret keys, API keys and authorization headers', () => {
    const capture = new LogCapture();
    const logger = createLogger('historical-data-manager', 'info', { destination: capture });
    logger.info(
      {
        password: 'p0',
        kafka: { brokers: ['127.0.0.1:9094'], sasl: { mechanism: 'scram-sha-512', password: 'p1' } },
        s3: { accessKeyId: 'tributary', secretAccessKey: 's3-secret' },
        alpaca: { apiKey: 'AK123', apiSecret: 'AS456' },
        config: { S3_SECRET_ACCESS_KEY: 'env-secret', DATABASE_URL: 'postgres://u:pw@db/x', PORT: 3105 },
        req: { method: 'GET', headers: { authorization: 'Bearer abc', cookie: 'sid=1', accept: 'json' } },
      },
      'config loaded',
    );
    const [line] = capture.lines;
    const text = JSON.stringify(line);
    for (const secret of [
      'p0',
      'p1',
      's3-secret',
      'AK123',
      'AS456',
      'env-secret',
      'pw@db',
      'Bearer abc',
      'sid=1',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(line).toMatchObject({
      password: REDACTED,
      kafka: { brokers: ['127.0.0.1:9094'], sasl: { mechanism: 'scram-sha-512', password: REDACTED } },
      s3: { accessKeyId: 'tributary', secretAccessKey: REDACTED },
      config: { PORT: 3105 },
      req: { headers: { authorization: REDACTED, accept: 'json' } },
    });
  });

  it('lines below the configured level are not written', () => {
    const capture = new LogCapture();
    const logger = createLogger('cdc-listener', 'warn', { destination: capture });
    logger.info('chatty');
    logger.warn('slot lag high');
    expect(capture.lines.map((line) => line['msg'])).toEqual(['slot lag high']);
  });
});
