import { HEADERS, sampleEvent, validateEvent } from '@tributary/contracts';
import { compileRule } from '@tributary/cep';
import type { RuleSpec } from '../rules/rule-api';
import { CepTopics } from './cep-topics';
import { type InputRecord, offsetBefore, PartitionProcessor } from './partition-processor';

const MS = 1_000_000;
const BASE_MS = 1_742_567_400_000;
const topics = new CepTopics('t.');

function rule(id: string, version: number, size = 500): RuleSpec {
  return {
    id,
    version,
    enabled: true,
    severity: 'warning',
    document: {
      inputs: ['market.trades'],
      keyBy: 'symbol',
      outOfOrdernessNs: 0,
      pattern: {
        stages: [
          { name: 'move', where: { field: 'price', op: '>=', to: { value: 100 } } },
          { name: 'volume', contiguity: 'followedBy', where: { field: 'size', op: '>=', to: { value: size } } },
        ],
        within: 1000 * MS,
        skip: { kind: 'skipPastLastEvent' },
      },
    },
  };
}

let offset = 0;
function trade(symbol: string, price: number, size: number, ms: number): InputRecord {
  const ts = `${BigInt(BASE_MS + ms) * 1_000_000n}`;
  const value = sampleEvent('market.trades', { symbol, price, size, ts, tradeId: String(offset) });
  return { topic: 't.market.trades', partition: 3, offset: String(offset++), key: Buffer.from(symbol), value: Buffer.from(JSON.stringify(value)), headers: { [HEADERS.schemaVersion]: '1' } };
}

function processor(rules: RuleSpec[], checkpoint?: ReturnType<PartitionProcessor['takeCommit']>['checkpoint']): PartitionProcessor {
  return new PartitionProcessor({ group: 'g', slot: 3, topics, writer: 'test/0', idlePartitionMs: 5000, now: () => BASE_MS + 3_600_000 }, rules.map((spec) => compileRule(spec)), checkpoint);
}

describe('a partition processor', () => {
  beforeEach(() => (offset = 0));

  it('raises a valid alert naming rule, version, key and the contributing events, with a stable id', () => {
    const run = () => {
      offset = 0;
      const p = processor([rule('surge', 4)]);
      for (const record of [trade('AAPL', 150, 10, 0), trade('AAPL', 150, 600, 10), trade('AAPL', 1, 1, 20)]) p.ingest(record);
      return p.takeCommit();
    };
    const unit = run();
    expect(unit.alerts).toHaveLength(1);
    const [alert] = unit.alerts;
    expect(alert).toMatchObject({ rule: 'surge', ruleVersion: 4, key: 'AAPL', severity: 'warning' });
    expect(alert?.events.map((event) => event.offset)).toEqual(['0', '1']);
    expect(validateEvent('cep.alerts', alert, { nowMs: BASE_MS + 3_600_000 }).ok).toBe(true);
    expect(run().alerts[0]?.alertId).toBe(alert?.alertId);
    expect(unit.offsets).toEqual({ 't.market.trades': { '3': '3' } });
  });

  it('resumes from its checkpoint exactly: skips records already applied and completes partial matches begun before', () => {
    const first = processor([rule('surge', 1)]);
    const opening = trade('AAPL', 150, 10, 0);
    first.ingest(opening);
    const { checkpoint } = first.takeCommit();
    const restored = processor([rule('surge', 1)], JSON.parse(JSON.stringify(checkpoint)));
    expect(restored.ingest(opening)).toBe('skipped');
    restored.ingest(trade('AAPL', 150, 600, 10));
    restored.ingest(trade('AAPL', 1, 1, 20));
    expect(restored.takeCommit().alerts.map((alert) => alert.events.map((event) => event.offset))).toEqual([['0', '1']]);
  });

  it('changing one rule restarts only that rule; the other keeps its partial matches', () => {
    const p = processor([rule('surge', 1), rule('other', 1, 900)]);
    p.ingest(trade('AAPL', 150, 10, 0));
    p.setRules([rule('surge', 2), rule('other', 1, 900)].map((spec) => compileRule(spec)));
    const byRule = Object.fromEntries(p.stats().map((stats) => [stats.rule, stats]));
    expect(byRule['other']?.partialMatches).toBe(1);
    expect(byRule['surge']).toMatchObject({ version: 2, partialMatches: 0 });
    p.ingest(trade('AAPL', 1, 950, 10));
    p.ingest(trade('AAPL', 1, 1, 20));
    expect(p.takeCommit().alerts.map((alert) => `${alert.rule}@${alert.ruleVersion}`)).toEqual(['other@1']);
  });

  it('sends a record that fails its contract to the topic DLQ with the reason, and keeps going', () => {
    const p = processor([rule('surge', 1)]);
    const bad: InputRecord = { ...trade('AAPL', 150, 10, 0), value: Buffer.from('{"symbol":"AAPL","price":-1}') };
    expect(p.ingest(bad)).toBe('dead-lettered');
    const [letter] = p.takeCommit().deadLetters;
    expect(letter?.topic).toBe('t.market.trades.dlq');
    expect(String(letter?.message.headers?.['dlq.reason'])).toMatch(/price/);
  });

  it('reports partial matches whose window closed as timed-out side outputs', () => {
    const p = processor([rule('surge', 1)]);
    p.ingest(trade('AAPL', 150, 10, 0));
    p.ingest(trade('AAPL', 1, 1, 5000));
    const unit = p.takeCommit();
    expect(unit.sideOutputs.map((side) => [side.kind, side.rule, side.events.length])).toEqual([['timed-out-match', 'surge', 1]]);
    expect(validateEvent('cep.side-outputs', unit.sideOutputs[0], { nowMs: BASE_MS + 3_600_000 }).ok).toBe(true);
  });

  it('compares 64-bit offsets as numbers', () => {
    expect(offsetBefore('9', '10')).toBe(true);
    expect(offsetBefore('10', '9')).toBe(false);
    expect(offsetBefore('9007199254740993', '9007199254740994')).toBe(true);
  });
});
