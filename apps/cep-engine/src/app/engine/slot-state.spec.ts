import { compileRule, defaultRules, type ReplayInput, ScenarioBuilder } from '@tributary/cep';
import { HEADERS } from '@tributary/contracts';
import { parseCheckpointRecord, type PartitionCheckpoint } from './checkpoint';
import { CepTopics } from './cep-topics';
import { type InputRecord, PartitionProcessor } from './partition-processor';

const topics = new CepTopics('t.');
const NOW_MS = 1_742_567_400_000 + 30 * 86_400_000;

/** Records of a libs/cep scenario as the consumer hands them over: prefixed topic, its partition, offsets counted per partition. */
function recordsOf(events: readonly ReplayInput[]): InputRecord[] {
  const offsets = new Map<string, number>();
  return events.map((event) => {
    const topic = `t.${event.topic}`;
    const partition = event.partition ?? 0;
    const at = `${topic}/${partition}`;
    const offset = offsets.get(at) ?? 0;
    offsets.set(at, offset + 1);
    return { topic, partition, offset: String(offset), key: null, value: Buffer.from(JSON.stringify(event.value)), headers: { [HEADERS.schemaVersion]: '1' } };
  });
}

function processor(slot: number | 'global', rules: ReturnType<typeof compileRule>[], checkpoint?: PartitionCheckpoint): PartitionProcessor {
  return new PartitionProcessor({ group: 'g', slot, topics, writer: 'test/0', idlePartitionMs: 5000, now: () => NOW_MS }, rules, checkpoint);
}

/** The checkpoint as the next owner reads it from the topic. */
const roundTrip = (checkpoint: PartitionCheckpoint) => parseCheckpointRecord(JSON.stringify(checkpoint)) as PartitionCheckpoint;

describe('the global slot', () => {
  const riskBreach = compileRule({ id: 'risk_breach', version: 1, enabled: true, severity: 'critical', builtin: 'RISK_BREACH' });

  it('raises one RISK_BREACH for a position and a limit of one account read from different partitions', () => {
    const scenario = new ScenarioBuilder()
      .at(0)
      .limit('ACC-7', 'max_position_quantity', 1_000, { symbol: 'AAPL', op: 'c' }, 2)
      .at(1_000)
      .position('ACC-7', 'AAPL', 1_500, 210, 'c', 'cdc.trading.positions', 0)
      .at(10_000)
      .position('ACC-8', 'MSFT', 10, 400, 'c', 'cdc.trading.positions', 2)
      .position('ACC-9', 'MSFT', 10, 400, 'c', 'cdc.trading.positions', 0)
      .limit('ACC-9', 'max_position_quantity', 1_000_000, { op: 'c' }, 2);
    const global = processor('global', [riskBreach]);
    for (const record of recordsOf(scenario.events)) global.ingest(record);
    const unit = global.takeCommit();
    expect(unit.alerts.map((alert) => [alert.rule, alert.key, alert.attributes['limitType'], alert.attributes['exposure']])).toEqual([['risk_breach', 'ACC-7', 'max_position_quantity', 1_500]]);
    expect(unit.slot).toBe('global');
    expect(unit.offsets).toEqual({ 't.cdc.trading.positions': { '0': '2', '2': '1' }, 't.cdc.trading.risk_limits': { '2': '2' } });
    expect(unit.checkpoint).toMatchObject({ format: 2, partition: 'global' });
  });

  it('resumes every partition of its inputs from the checkpoint', () => {
    const records = recordsOf(
      new ScenarioBuilder()
        .at(0)
        .limit('ACC-7', 'max_position_quantity', 1_000, { symbol: 'AAPL', op: 'c' }, 2)
        .at(1_000)
        .position('ACC-7', 'AAPL', 1_500, 210, 'c', 'cdc.trading.positions', 0)
        .at(10_000)
        .position('ACC-8', 'MSFT', 10, 400, 'c', 'cdc.trading.positions', 2)
        .position('ACC-9', 'MSFT', 10, 400, 'c', 'cdc.trading.positions', 0)
        .limit('ACC-9', 'max_position_quantity', 1_000_000, { op: 'c' }, 2).events,
    );
    const first = processor('global', [riskBreach]);
    first.ingest(records[0] as InputRecord);
    const restored = processor('global', [riskBreach], roundTrip(first.takeCommit().checkpoint));
    expect(restored.position('t.cdc.trading.risk_limits', 2)).toBe('1');
    expect(restored.position('t.cdc.trading.positions', 0)).toBeUndefined();
    expect(records.map((record) => restored.ingest(record))).toEqual(['skipped', 'applied', 'applied', 'applied', 'applied']);
    expect(restored.takeCommit().alerts.map((alert) => alert.key)).toEqual(['ACC-7']);
  });
});

describe('checkpoints', () => {
  it('reads a format-1 checkpoint (offsets of partition N per topic) as format 2', () => {
    const old = { format: 1, kind: 'state', group: 'g', partition: 5, offsets: { 't.market.trades': '42' }, timelineBase: null, rules: {}, writer: 'w', writtenAtMs: 1 };
    expect(parseCheckpointRecord(JSON.stringify(old))).toMatchObject({ format: 2, partition: 5, offsets: { 't.market.trades': { '5': '42' } } });
    expect(() => parseCheckpointRecord('{"format":3}')).toThrow('unknown checkpoint format 3');
    expect(() => parseCheckpointRecord(JSON.stringify({ ...old, partition: 'elsewhere' }))).toThrow('checkpoint record lacks its group or partition');
  });

  it('serialises only the rules that changed since the previous commit, and writes exactly the checkpoint', () => {
    const momentum = compileRule({ id: 'momentum_surge', version: 1, enabled: true, severity: 'warning', builtin: 'MOMENTUM_SURGE' });
    const liquidity = compileRule({ id: 'liquidity_drain', version: 1, enabled: true, severity: 'warning', builtin: 'LIQUIDITY_DRAIN' });
    const records = recordsOf(new ScenarioBuilder().at(0).quote('AAPL', 214.1, 214.12).at(10).trade('AAPL', 214.11, 100).at(20).trade('AAPL', 214.12, 100).events);
    const p = processor(0, [momentum, liquidity]);
    p.ingest(records[0] as InputRecord);
    p.ingest(records[1] as InputRecord);
    const before = p.takeCommit();
    p.ingest(records[2] as InputRecord);
    const after = p.takeCommit();
    expect(after.checkpoint.rules['liquidity_drain']).toBe(before.checkpoint.rules['liquidity_drain']);
    expect(after.checkpoint.rules['momentum_surge']).not.toBe(before.checkpoint.rules['momentum_surge']);
    for (const unit of [before, after]) expect(JSON.parse(unit.checkpointJson)).toEqual(JSON.parse(JSON.stringify(unit.checkpoint)));
    const restored = processor(0, [momentum, liquidity], roundTrip(after.checkpoint));
    expect(restored.takeCommit().checkpointJson.replace(/"writtenAtMs":\d+/, '')).toBe(after.checkpointJson.replace(/"writtenAtMs":\d+/, ''));
  });

  it('keeps the timeline base, so VOLUME_ANOMALY buckets stay where they were and a resumed run raises the same alerts', () => {
    const rule = compileRule({ id: 'volume_anomaly', version: 1, enabled: true, severity: 'info', builtin: 'VOLUME_ANOMALY', params: { bucketMs: 1_000, windowMs: 60_000, minSamples: 30 } });
    // The first trade 370 ms into a second: buckets are aligned to it, not to whole seconds.
    const scenario = new ScenarioBuilder();
    for (let s = 0; s < 40; s++) for (let t = 0; t < 10; t++) scenario.at(370 + s * 1_000 + t * 100).trade('NVDA', 120, 100 + ((s * 7) % 5) * 10);
    for (let t = 0; t < 10; t++) scenario.at(40_000 + t * 100).trade('NVDA', 120.1, 1_000);
    scenario.at(50_000).trade('NVDA', 120, 100);
    const records = recordsOf(scenario.events);
    const uninterrupted = processor(0, [rule]);
    for (const record of records) uninterrupted.ingest(record);
    const expected = uninterrupted.takeCommit().alerts;
    expect(expected).toHaveLength(1);

    // Stopped mid-stream; the next owner's first record is 250 ms into a bucket.
    const cut = records.findIndex((record) => JSON.parse(String(record.value)).ts === scenario.events[205]?.value['ts']);
    const first = processor(0, [rule]);
    for (const record of records.slice(0, cut)) first.ingest(record);
    const checkpoint = roundTrip(first.takeCommit().checkpoint);
    expect(checkpoint.timelineBase).toBe(scenario.events[0]?.value['ts']);
    const resumed = processor(0, [rule], checkpoint);
    for (const record of records.slice(cut)) resumed.ingest(record);
    expect(resumed.takeCommit().alerts).toEqual(expected);
  });
});

describe('state under key churn', () => {
  it('stays bounded with every built-in rule while 20k symbols each trade and quote for a moment and never come back', () => {
    const rules = defaultRules().map((spec) => compileRule(spec));
    const p = processor(0, rules);
    const startNs = BigInt(NOW_MS - 3 * 86_400_000) * 1_000_000n;
    const trade = (symbol: string, ts: string, price: number, size: number) =>
      `{"symbol":"${symbol}","price":${price},"size":${size},"exchange":"D","tradeId":"${ts}","conditions":["@"],"ts":"${ts}","tape":"C"}`;
    const quote = (symbol: string, ts: string, bid: number) =>
      `{"symbol":"${symbol}","bidPrice":${bid},"bidSize":300,"askPrice":${bid + 0.02},"askSize":200,"bidExchange":"Q","askExchange":"P","ts":"${ts}","conditions":["R"],"tape":"C"}`;
    let offset = 0;
    const feed = (topic: string, json: string) => {
      const result = p.ingest({ topic: `t.${topic}`, partition: 0, offset: String(offset++), key: null, value: Buffer.from(json), headers: { [HEADERS.schemaVersion]: '1' } });
      if (result !== 'applied') throw new Error(`record ${offset - 1} was ${result}`);
    };
    const KEYS = 20_000;
    // A new symbol every second of event time (five and a half hours in all), each trading twice and
    // quoting once within 50 ms.
    const NEW_SYMBOL_EVERY_MS = 1_000;
    const sizes: { keys: number; partialMatches: number; bufferedRecords: number }[] = [];
    for (let k = 0; k < KEYS; k++) {
      const symbol = `Z${k.toString(36).toUpperCase()}`;
      const at = (ms: number) => (startNs + BigInt(k * NEW_SYMBOL_EVERY_MS + ms) * 1_000_000n).toString();
      feed('market.trades', trade(symbol, at(0), 50 + (k % 50), 100));
      feed('market.quotes', quote(symbol, at(20), 50 + (k % 50)));
      feed('market.trades', trade(symbol, at(50), 50.5 + (k % 50), 5_000));
      if (k % 500 === 499) {
        p.collect();
        const stats = p.stats();
        sizes.push({
          keys: stats.reduce((sum, rule) => sum + rule.keys, 0),
          partialMatches: stats.reduce((sum, rule) => sum + rule.partialMatches, 0),
          bufferedRecords: stats.reduce((sum, rule) => sum + rule.bufferedRecords, 0),
        });
      }
    }
    // Each rule forgets a key after its idle-key TTL (at most 1 h of event time here: 3,600 symbols):
    // the state reaches that plateau within the first hour and never grows past it.
    const longestTtlMs = Math.max(...rules.filter((rule) => rule.inputs.some((topic) => topic === 'market.trades' || topic === 'market.quotes')).map((rule) => (rule.options.idleKeyTtlNs ?? 0) / 1e6));
    const alive = (longestTtlMs / NEW_SYMBOL_EVERY_MS) * rules.length;
    const plateau = sizes.slice(sizes.length / 2);
    expect(Math.max(...sizes.map((size) => size.keys))).toBeLessThanOrEqual(alive);
    expect(Math.max(...plateau.map((size) => size.keys))).toBeLessThanOrEqual(Math.min(...plateau.map((size) => size.keys)) * 1.05);
    expect(Math.max(...sizes.map((size) => size.partialMatches))).toBeLessThanOrEqual(alive);
    expect(Math.max(...sizes.map((size) => size.bufferedRecords))).toBeLessThanOrEqual(50 * rules.length);
    expect(KEYS * rules.length).toBeGreaterThan(4 * alive);
  });
});
