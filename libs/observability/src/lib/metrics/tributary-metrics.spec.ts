import { Registry } from 'prom-client';
import { createMetricsRegistry, TributaryMetrics } from './tributary-metrics';

function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('TributaryMetrics', () => {
  it('the metrics text counts produced, consumed, failed and dead-lettered messages per topic', async () => {
    const metrics = new TributaryMetrics(new Registry());
    metrics.kafkaProduced('options.quotes.v1', 500);
    metrics.kafkaProduced('options.quotes.v1');
    metrics.kafkaProduced('market.trades.v1', 3);
    metrics.kafkaConsumed('options.quotes.v1', 200);
    metrics.kafkaFailed('options.quotes.v1');
    metrics.kafkaFailed('options.quotes.v1');
    metrics.kafkaDeadLettered('options.quotes.v1');

    const text = await metrics.exposition();
    expect(text).toContain('# TYPE tributary_kafka_messages_produced_total counter');
    expect(sampleValue(text, 'tributary_kafka_messages_produced_total{topic="options.quotes.v1"}')).toBe(501);
    expect(sampleValue(text, 'tributary_kafka_messages_produced_total{topic="market.trades.v1"}')).toBe(3);
    expect(sampleValue(text, 'tributary_kafka_messages_consumed_total{topic="options.quotes.v1"}')).toBe(200);
    expect(sampleValue(text, 'tributary_kafka_messages_failed_total{topic="options.quotes.v1"}')).toBe(2);
    expect(sampleValue(text, 'tributary_kafka_messages_dead_lettered_total{topic="options.quotes.v1"}')).toBe(
      1,
    );
  });

  it('handler durations land in buckets from 0.1 ms to 10 s, per topic', async () => {
    const metrics = new TributaryMetrics(new Registry());
    metrics.handlerSeconds('cep.alerts.v1').observe(0.00008);
    metrics.handlerSeconds('cep.alerts.v1').observe(0.003);
    metrics.handlerSeconds('cep.alerts.v1').observe(12);
    const end = metrics.handlerSeconds('market.quotes.v1').startTimer();
    end();

    const text = await metrics.exposition();
    const bucket = (le: string) =>
      sampleValue(text, `tributary_kafka_handler_duration_seconds_bucket{le="${le}",topic="cep.alerts.v1"}`);
    expect(bucket('0.0001')).toBe(1);
    expect(bucket('0.0025')).toBe(1);
    expect(bucket('0.005')).toBe(2);
    expect(bucket('10')).toBe(2);
    expect(bucket('+Inf')).toBe(3);
    expect(
      sampleValue(text, 'tributary_kafka_handler_duration_seconds_count{topic="market.quotes.v1"}'),
    ).toBe(1);
  });

  it('the same topic always gets the same cached series', () => {
    const metrics = new TributaryMetrics(new Registry());
    expect(metrics.handlerSeconds('a')).toBe(metrics.handlerSeconds('a'));
    expect(metrics.handlerSeconds('a')).not.toBe(metrics.handlerSeconds('b'));
  });

  it('two TributaryMetrics on one registry (an app and a library) count into the same series', async () => {
    const registry = new Registry();
    new TributaryMetrics(registry).kafkaConsumed('t', 2);
    new TributaryMetrics(registry).kafkaConsumed('t', 3);
    expect(sampleValue(await registry.metrics(), 'tributary_kafka_messages_consumed_total{topic="t"}')).toBe(
      5,
    );
  });

  it('services register their own metrics on the shared registry', async () => {
    const metrics = new TributaryMetrics(new Registry());
    const { Gauge } = await import('prom-client');
    new Gauge({
      name: 'tributary_cdc_replication_lag_bytes',
      help: 'lag',
      registers: [metrics.registry],
    }).set(42);
    expect(sampleValue(await metrics.exposition(), 'tributary_cdc_replication_lag_bytes')).toBe(42);
  });
});

describe('createMetricsRegistry', () => {
  it('exposes the usual unprefixed process metrics, every series labelled with the service', async () => {
    const registry = createMetricsRegistry({ service: 'kafka-gateway' });
    new TributaryMetrics(registry).kafkaProduced('market.quotes.v1');
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="kafka-gateway"\} \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{service="kafka-gateway"\}/m);
    expect(text).toContain(
      'tributary_kafka_messages_produced_total{topic="market.quotes.v1",service="kafka-gateway"} 1',
    );
    expect(registry.contentType).toContain('text/plain');
  });

  it('can leave out the process metrics', async () => {
    const registry = createMetricsRegistry({ service: 'x', defaultMetrics: false });
    expect(await registry.metrics()).not.toContain('process_cpu');
  });
});
