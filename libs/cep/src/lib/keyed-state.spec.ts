import { CepEngine, type CepEngineOptions } from './engine';
import { Pattern } from './pattern';
import type { CepRecord } from './watermark';

interface Tick {
  symbol: string;
  kind: 'limit' | 'fill';
  qty: number;
}

const S = 1e9;
let offset = 0;
const rec = (ts: number, event: Tick, partition = 0): CepRecord<Tick> => ({ event, ts, topic: 't', partition, offset: String(offset++) });

/** Fills against the latest limit of the symbol, held in keyed state; fills of symbols starting with X are filtered out. */
function options(extra: Partial<CepEngineOptions<Tick>> = {}): CepEngineOptions<Tick> {
  return {
    patterns: [
      {
        id: 'OVER',
        version: 1,
        pattern: Pattern.begin<Tick>('fill').where((t, ctx) => t.kind === 'fill' && t.qty > ((ctx.state('limits').get('limit') as number | undefined) ?? Infinity)),
        capture: (_match, scope) => ({ limit: scope.state('limits').get('limit') as number, fills: scope.aggregate('fills').count, sumQty: scope.aggregate('fills').sum }),
      },
    ],
    keyBy: (t) => t.symbol,
    outOfOrdernessNs: 0,
    aggregates: [{ name: 'fills', windowNs: 100 * S, value: () => undefined }],
    state: [
      {
        name: 'limits',
        retain: true,
        update(t, table) {
          if (t.kind === 'limit') table.set('limit', t.qty);
        },
      },
      {
        name: 'seen',
        update(t, table, scope) {
          if (t.kind === 'fill') scope.sample('fills', t.qty);
          table.set('last', t.qty);
        },
      },
    ],
    filter: (t) => !t.symbol.startsWith('X'),
    idleKeyTtlNs: 10 * S,
    ...extra,
  };
}

describe('keyed state, filters and captures', () => {
  it('lets conditions read state written by earlier events of the key and records captured values with the match', () => {
    const engine = new CepEngine(options());
    [rec(1 * S, { symbol: 'A', kind: 'fill', qty: 500 }), rec(2 * S, { symbol: 'A', kind: 'limit', qty: 100 }), rec(3 * S, { symbol: 'A', kind: 'fill', qty: 50 }), rec(4 * S, { symbol: 'A', kind: 'fill', qty: 150 })].forEach((r) =>
      engine.ingest(r),
    );
    engine.advanceWatermark(Infinity);
    const { matches } = engine.drain();
    expect(matches).toHaveLength(1);
    expect(matches[0].lastEventTs).toBe(4 * S);
    // Samples added by a state update are visible to the conditions and captures of the same event.
    expect(matches[0].captured).toEqual({ limit: 100, fills: 3, sumQty: 700 });
  });

  it('keeps filtered records out of every key while they still move event time', () => {
    const engine = new CepEngine(options());
    engine.ingest(rec(1 * S, { symbol: 'A', kind: 'limit', qty: 1 }));
    engine.ingest(rec(2 * S, { symbol: 'XYZ', kind: 'fill', qty: 5 }));
    expect(engine.watermark).toBe(2 * S);
    expect(engine.stats().keys).toBe(1);
  });

  it('keeps retained state (and its key) when the key goes idle and drops the rest', () => {
    const engine = new CepEngine(options());
    engine.ingest(rec(1 * S, { symbol: 'A', kind: 'limit', qty: 100 }));
    engine.ingest(rec(1 * S, { symbol: 'B', kind: 'fill', qty: 1 }));
    engine.ingest(rec(100 * S, { symbol: 'C', kind: 'fill', qty: 1 }));
    expect(engine.stats().keys).toBe(2); // B had nothing retained
    engine.ingest(rec(101 * S, { symbol: 'A', kind: 'fill', qty: 101 }));
    engine.advanceWatermark(Infinity);
    expect(engine.drain().matches.map((m) => m.captured)).toEqual([{ limit: 100, fills: 1, sumQty: 101 }]);
  });

  it('carries keyed state through a snapshot: a restored engine continues exactly', () => {
    const input = [rec(1 * S, { symbol: 'A', kind: 'limit', qty: 100 }), rec(2 * S, { symbol: 'A', kind: 'fill', qty: 40 }), rec(3 * S, { symbol: 'A', kind: 'fill', qty: 120 }), rec(4 * S, { symbol: 'A', kind: 'fill', qty: 130 })];
    const straight = new CepEngine(options());
    input.forEach((r) => straight.ingest(r));
    straight.advanceWatermark(Infinity);
    const first = new CepEngine(options());
    input.slice(0, 2).forEach((r) => first.ingest(r));
    const snapshot = JSON.parse(JSON.stringify(first.snapshot()));
    expect(snapshot.keys[0].state).toEqual({ limits: [['limit', 100]], seen: [['last', 40]] });
    const restored = CepEngine.restore(options(), snapshot);
    input.slice(2).forEach((r) => restored.ingest(r));
    restored.advanceWatermark(Infinity);
    expect(restored.drain().matches).toEqual(straight.drain().matches.filter((m) => m.lastEventTs > 2 * S));
  });
});
