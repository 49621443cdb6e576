import { DLQ_HEADERS, type QualityFinding, type UnderlyingTrade } from '@tributary/contracts';
import { TypedProducer } from '@tributary/kafka';
import { createMetricsRegistry, TributaryMetrics } from '@tributary/observability';
import { eventually } from '@tributary/testing';
import { OwnTopics, quietLogger, rawProducer, readAll, readUntil, testConnection, uniqueTopicPrefix } from '../candles/candle-topics.testing';
import { TradeQualityProcessor, type TradeQualityOptions } from './trade-quality-processor';

const BASE_MS = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;

function trade(ms: number, price: number, id: string): UnderlyingTrade.Value {
  return { symbol: 'QLTY', price, size: 100, exchange: 'Q', tradeId: id, conditions: [], ts: `${BASE_MS + ms}000000` };
}

describe('data quality processor on the real broker', () => {
  const connection = testConnection();
  let topics: OwnTopics;
  let raw: TypedProducer;
  let producer: TypedProducer;
  let processor: TradeQualityProcessor;
  const metrics = new TributaryMetrics(createMetricsRegistry({ service: 'kafka-gateway-it', defaultMetrics: false }));
  const prefix = uniqueTopicPrefix('quality');
  const options: TradeQualityOptions = {
    enabled: true,
    groupId: `${prefix}-quality`,
    sourceTopic: `${prefix}.trades`,
    fromBeginning: true,
    validatedTopic: `${prefix}.trades.validated`,
    findingsTopic: `${prefix}.quality`,
    dedupWindowMs: 300_000,
    dedupMaxEntries: 10_000,
    outlier: { zThreshold: 6, minHistory: 20, window: 50, minMoveBps: 50, levelShiftAfter: 5, maxSymbols: 100 },
    gapGranularitiesMs: [500, 5_000, 30_000],
  };

  beforeAll(async () => {
    topics = new OwnTopics(connection);
    await topics.create([
      { topic: options.sourceTopic },
      { topic: `${options.sourceTopic}.dlq` },
      { topic: options.validatedTopic },
      { topic: options.findingsTopic },
    ]);
    raw = rawProducer(connection);
    producer = new TypedProducer(testConnection(), { service: 'kafka-gateway-it', lingerMs: 2 });
    processor = new TradeQualityProcessor(testConnection(), producer, quietLogger(), options, metrics);
    await processor.onApplicationBootstrap();
    await eventually(() => processor.consumer?.ready, 'the quality consumer to join its group');
  });

  afterAll(async () => {
    await processor?.onModuleDestroy();
    await producer?.disconnect();
    await raw?.disconnect();
    await topics?.cleanup();
  });

  it('forwards clean trades once, drops a duplicate, dead-letters outliers and bad records with the reason, and reports every finding', async () => {
    const normal = Array.from({ length: 25 }, (_, i) => trade(i * 100, 100 + (i % 4) * 0.05, `n${i}`));
    const duplicated = trade(2_600, 100.1, 'dup');
    const fatFinger = trade(2_700, 1001, 'fat');
    const afterGap = trade(9_000, 100.05, 'gap'); // 6.4 s after the last kept trade (2.6 s): beyond 500 ms and 5 s
    const message = (value: unknown, key?: string) => ({
      key: 'QLTY',
      value: typeof value === 'string' ? value : JSON.stringify(value),
      headers: key ? { 'idempotency.key': key } : undefined,
    });
    await raw.sendRaw(options.sourceTopic, [
      ...normal.map((value) => message(value)),
      message(duplicated, 'feed/dup-1'),
      message(duplicated, 'feed/dup-1'), // sent twice: published once
      message(fatFinger),
      message({ ...trade(2_800, 100, 'neg'), price: -1 }),
      message('{"symbol": "QLTY", '),
      message(afterGap),
    ]);

    // Once the processor committed every input record, what it forwarded and dead-lettered is all on the brokers.
    await topics.waitUntilConsumed(options.groupId, options.sourceTopic);
    const validated = await readAll(connection, options.validatedTopic);
    expect(validated.map((record) => (JSON.parse(record.value ?? '') as UnderlyingTrade.Value).tradeId)).toEqual([
      ...normal.map((value) => value.tradeId),
      'dup',
      'gap',
    ]);
    expect(validated[25].headers['idempotency.key']).toBe('key:feed/dup-1');
    expect(validated[0].headers['idempotency.key']).toMatch(/^sha256:[0-9a-f]{40}$/);
    expect(validated[0].key).toBe('QLTY');

    const dead = await readAll(connection, `${options.sourceTopic}.dlq`);
    expect(dead.map((record) => record.headers[DLQ_HEADERS.errorType]).sort()).toEqual(['DeserializationError', 'PriceOutlier', 'ValidationError']);
    const outlier = dead.find((record) => record.headers[DLQ_HEADERS.errorType] === 'PriceOutlier');
    expect(outlier?.headers[DLQ_HEADERS.reason]).toMatch(/^price outlier: 1001 is .* standard deviations from the rolling mean 100\.0/);
    expect(JSON.parse(outlier?.value ?? '')).toEqual(fatFinger);
    expect(dead.find((record) => record.headers[DLQ_HEADERS.errorType] === 'ValidationError')?.headers[DLQ_HEADERS.reason]).toMatch(/\/price/);

    // Findings about records the transport dead-lettered are written without holding the commit back.
    await readUntil(connection, options.findingsTopic, (read) => read.length >= 5, '5 findings');
    const findings = (await readAll(connection, options.findingsTopic)).map((record) => JSON.parse(record.value ?? '') as QualityFinding.Value);
    const byCheck = (check: QualityFinding.QualityCheck) => findings.filter((finding) => finding.check === check);
    expect(byCheck('duplicate')).toEqual([
      expect.objectContaining({ action: 'dropped', fingerprint: 'key:feed/dup-1', firstSeen: { partition: 0, offset: '25' } }),
    ]);
    expect(byCheck('outlier')).toEqual([expect.objectContaining({ action: 'dead-lettered', price: 1001, symbol: 'QLTY' })]);
    expect(byCheck('gap')).toEqual([expect.objectContaining({ action: 'passed', granularities: ['500ms', '5s'], gapMs: 6_400 })]);
    expect(byCheck('schema').map((finding) => finding.action)).toEqual(['dead-lettered', 'dead-lettered']);
    expect(findings).toHaveLength(5);

    const exposition = await metrics.exposition();
    expect(exposition).toContain('tributary_quality_records_total{outcome="duplicate",service="kafka-gateway-it"} 1');
    expect(exposition).toContain('tributary_quality_records_total{outcome="outlier",service="kafka-gateway-it"} 1');
    expect(exposition).toContain('tributary_quality_findings_total{check="gap",granularity="5s",service="kafka-gateway-it"} 1');
  });
});
