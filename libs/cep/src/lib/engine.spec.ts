import { AfterMatchSkip, Pattern, type SkipStrategy } from './pattern';
import { CepEngine, type CepEngineOptions, type CepMatch, type PatternSpec } from './engine';
import type { CepRecord } from './watermark';

interface Tick {
  name: string;
  key: string;
}

const is =
  (...letters: string[]) =>
  (event: Tick): boolean =>
    letters.includes(event.name[0]);

function records(names: string[], key = 'k', step = 1_000): CepRecord<Tick>[] {
  return names.map((name, i) => ({ event: { name, key }, ts: (i + 1) * step, topic: 't', partition: 0, offset: String(i) }));
}

function engineFor(pattern: Pattern<Tick>, extra: Partial<CepEngineOptions<Tick>> = {}): CepEngine<Tick> {
  const patterns: PatternSpec<Tick>[] = [{ id: 'p', version: 1, pattern }];
  return new CepEngine<Tick>({ patterns, keyBy: (e) => e.key, outOfOrdernessNs: 0, ...extra });
}

function render(match: CepMatch<Tick>): string {
  return Object.values(match.events)
    .flat()
    .sort((x, y) => x.ts - y.ts)
    .map((e) => e.event.name)
    .join(' ');
}

function run(pattern: Pattern<Tick>, names: string[]): string[] {
  const engine = engineFor(pattern);
  for (const record of records(names)) engine.ingest(record);
  engine.advanceWatermark(Number.POSITIVE_INFINITY);
  return engine.drain().matches.map(render);
}

describe('contiguity (Flink CEP documentation examples)', () => {
  const input = ['a', 'c', 'b1', 'b2'];

  it('strict contiguity: a pattern "a b" does not match when another event comes between', () => {
    expect(run(Pattern.begin<Tick>('a').where(is('a')).next('b').where(is('b')), input)).toEqual([]);
  });

  it('relaxed contiguity: "a b" matches the first b after a', () => {
    expect(run(Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')), input)).toEqual(['a b1']);
  });

  it('non-deterministic relaxed contiguity: "a b" matches every b after a', () => {
    expect(run(Pattern.begin<Tick>('a').where(is('a')).followedByAny('b').where(is('b')), input)).toEqual(['a b1', 'a b2']);
  });

  const looping = ['a', 'b1', 'd1', 'b2', 'd2', 'b3', 'c'];

  it('a consecutive loop followed strictly only matches b runs without gaps', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedByAny('b').where(is('b')).oneOrMore().consecutive().next('c').where(is('c'));
    expect(run(pattern, looping)).toEqual(['a b3 c']);
  });

  it('a relaxed loop skips non-matching events between its events', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedByAny('b').where(is('b')).oneOrMore().followedBy('c').where(is('c'));
    expect(run(pattern, looping).sort()).toEqual(['a b1 b2 b3 c', 'a b1 b2 c', 'a b1 c', 'a b2 b3 c', 'a b2 c', 'a b3 c']);
  });

  it('a loop allowing combinations also skips matching events', () => {
    const pattern = Pattern.begin<Tick>('a')
      .where(is('a'))
      .followedByAny('b')
      .where(is('b'))
      .oneOrMore()
      .allowCombinations()
      .followedBy('c')
      .where(is('c'));
    expect(run(pattern, looping).sort()).toEqual(['a b1 b2 b3 c', 'a b1 b2 c', 'a b1 b3 c', 'a b1 c', 'a b2 b3 c', 'a b2 c', 'a b3 c']);
  });

  const cda = ['C', 'D', 'A1', 'A2', 'A3', 'D', 'A4', 'B'];
  const lower = (s: string) => (event: Tick) => event.name[0] === s;

  it('consecutive(): a non-matching event ends the loop (C D A1 A2 A3 D A4 B)', () => {
    const pattern = Pattern.begin<Tick>('start').where(lower('C')).followedBy('middle').where(lower('A')).oneOrMore().consecutive().followedBy('end1').where(lower('B'));
    expect(run(pattern, cda).sort()).toEqual(['C A1 A2 A3 B', 'C A1 A2 B', 'C A1 B']);
  });

  it('without consecutive(): the loop skips the D (C D A1 A2 A3 D A4 B)', () => {
    const pattern = Pattern.begin<Tick>('start').where(lower('C')).followedBy('middle').where(lower('A')).oneOrMore().followedBy('end1').where(lower('B'));
    expect(run(pattern, cda).sort()).toEqual(['C A1 A2 A3 A4 B', 'C A1 A2 A3 B', 'C A1 A2 B', 'C A1 B']);
  });

  it('allowCombinations() after followedByAny gives all 15 combinations of the documentation', () => {
    const pattern = Pattern.begin<Tick>('start').where(lower('C')).followedByAny('middle').where(lower('A')).oneOrMore().allowCombinations().followedBy('end1').where(lower('B'));
    expect(run(pattern, cda)).toHaveLength(15);
    expect(run(pattern, cda)).toContain('C A1 A3 B');
    expect(run(pattern, cda)).toContain('C A2 A4 B');
  });
});

describe('quantifiers', () => {
  it('times(n) takes exactly n events', () => {
    const pattern = Pattern.begin<Tick>('b').where(is('b')).times(2).consecutive();
    expect(run(pattern, ['b1', 'b2', 'b3'])).toEqual(['b1 b2', 'b2 b3']);
  });

  it('times(n, m) takes between n and m events', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).next('b').where(is('b')).times(1, 2).consecutive();
    expect(run(pattern, ['a', 'b1', 'b2', 'b3'])).toEqual(['a b1', 'a b1 b2']);
  });

  it('timesOrMore(n) needs at least n events', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')).timesOrMore(2);
    expect(run(pattern, ['a', 'b1', 'x', 'b2', 'b3'])).toEqual(['a b1 b2', 'a b1 b2 b3']);
  });

  it('optional() lets a stage be absent', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')).optional().followedBy('c').where(is('c'));
    expect(run(pattern, ['a', 'c1']).sort()).toEqual(['a c1']);
    expect(run(pattern, ['a', 'b', 'c1']).sort()).toEqual(['a b c1', 'a c1']);
  });

  it('greedy() keeps taking into the loop when the next stage would also match', () => {
    const isX = (e: Tick) => e.name.startsWith('x');
    const plain = Pattern.begin<Tick>('a').where(is('a')).followedBy('x').where(isX).oneOrMore();
    const greedy = plain.greedy().followedBy('y').where(isX);
    expect(run(greedy, ['a', 'x1', 'x2', 'x3']).sort()).toEqual([]);
    const nonGreedy = plain.followedBy('y').where(isX);
    expect(run(nonGreedy, ['a', 'x1', 'x2'])).toEqual(['a x1 x2']);
  });

  it('until() stops a loop at the first event satisfying it', () => {
    const pattern = Pattern.begin<Tick>('a')
      .where(is('a'))
      .followedBy('b')
      .where(is('b'))
      .oneOrMore()
      .until(is('s'))
      .followedBy('c')
      .where(is('c'));
    // Without until() the loop would also give 'a b1 b2 c'.
    expect(run(pattern, ['a', 'b1', 's', 'b2', 'c']).sort()).toEqual(['a b1 c']);
  });

  it('conditions can read events already matched (iterative conditions)', () => {
    type Px = Tick & { px: number };
    const events: CepRecord<Px>[] = [10, 11, 12, 11, 13].map((px, i) => ({ event: { name: 'p', key: 'k', px }, ts: i + 1, topic: 't', partition: 0, offset: String(i) }));
    const rising = Pattern.begin<Px>('up')
      .where((e, ctx) => {
        const last = ctx.last('up');
        return last === undefined || e.px > last.px;
      })
      .times(3)
      .consecutive();
    const engine = new CepEngine<Px>({ patterns: [{ id: 'rising', version: 1, pattern: rising }], keyBy: (e) => e.key, outOfOrdernessNs: 0 });
    events.forEach((r) => engine.ingest(r));
    engine.advanceWatermark(Infinity);
    expect(engine.drain().matches.map((m) => m.events['up'].map((e) => e.event.px))).toEqual([[10, 11, 12]]);
  });
});

describe('negation', () => {
  it('notNext: a match is discarded when the very next event is forbidden', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).notNext('x').where(is('x')).followedBy('c').where(is('c'));
    expect(run(pattern, ['a1', 'x', 'c1'])).toEqual([]);
    expect(run(pattern, ['a1', 'd', 'x', 'c1'])).toEqual(['a1 c1']);
  });

  it('notFollowedBy: a forbidden event anywhere between the stages discards the match', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).notFollowedBy('x').where(is('x')).followedBy('c').where(is('c'));
    expect(run(pattern, ['a1', 'd', 'x', 'c1'])).toEqual([]);
    expect(run(pattern, ['a1', 'd', 'c1'])).toEqual(['a1 c1']);
  });

  it('notFollowedBy at the end completes when the window closes without the forbidden event', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).notFollowedBy('x').where(is('x')).within(3_000);
    const engine = engineFor(pattern);
    for (const record of records(['a1', 'd', 'a2', 'x'])) engine.ingest(record);
    engine.advanceWatermark(Infinity);
    const out = engine.drain();
    expect(out.matches.map(render)).toEqual(['a1']);
    expect(out.matches[0].windowEnd).toBe(4_000);
  });
});

describe('within and timeouts', () => {
  const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')).within(2_000);

  it('a match must fit in the window', () => {
    expect(run(pattern, ['a1', 'b1'])).toEqual(['a1 b1']);
    expect(run(pattern, ['a1', 'x', 'b1'])).toEqual([]);
  });

  it('an expired partial match goes to the timeout side output with its events', () => {
    const engine = engineFor(pattern);
    for (const record of records(['a1', 'x', 'y'])) engine.ingest(record);
    const out = engine.drain();
    expect(out.timeouts.map(render)).toEqual(['a1']);
    expect(out.timeouts[0]).toMatchObject({ patternId: 'p', version: 1, key: 'k', windowStart: 1_000, timeoutTs: 3_000 });
  });

  it('a watermark alone times out partial matches of quiet keys', () => {
    const engine = engineFor(pattern);
    engine.ingest(records(['a1'], 'quiet')[0]);
    engine.advanceWatermark(10_000);
    expect(engine.drain().timeouts).toHaveLength(1);
    expect(engine.stats().partialMatches).toBe(0);
  });
});

describe('timers', () => {
  it('a partial match times out at its own deadline after the key\'s earlier partial matches completed', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')).within(5_000);
    const engine = engineFor(pattern);
    // a1 (deadline 6000) and a2 (deadline 8000) complete with b1; the key's timer at 6000 is then stale.
    for (const record of records(['a1', 'x', 'a2', 'y'])) engine.ingest(record);
    engine.ingest({ event: { name: 'b1', key: 'k' }, ts: 5_500, topic: 't', partition: 0, offset: '9' });
    engine.advanceWatermark(7_999);
    let out = engine.drain();
    expect(out.matches.map(render)).toEqual(['a1 b1', 'a2 b1']);
    expect(out.timeouts).toEqual([]);
    engine.ingest({ event: { name: 'a3', key: 'k' }, ts: 8_000, topic: 't', partition: 0, offset: '10' });
    engine.advanceWatermark(12_999);
    expect(engine.drain().timeouts).toEqual([]);
    engine.advanceWatermark(13_000);
    out = engine.drain();
    expect(out.timeouts.map((t) => [render(t), t.timeoutTs])).toEqual([['a3', 13_000]]);
  });

  it('a key idle longer than the idle TTL keeps its partial matches: one without within still completes', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b'));
    const engine = engineFor(pattern, { idleKeyTtlNs: 1_000 });
    engine.ingest({ event: { name: 'a1', key: 'quiet' }, ts: 1_000, topic: 't', partition: 0, offset: '0' });
    engine.ingest({ event: { name: 'x', key: 'busy' }, ts: 50_000, topic: 't', partition: 0, offset: '1' });
    expect(engine.stats()).toMatchObject({ keys: 2, partialMatches: 1 });
    engine.ingest({ event: { name: 'b1', key: 'quiet' }, ts: 60_000, topic: 't', partition: 0, offset: '2' });
    engine.advanceWatermark(Infinity);
    expect(engine.drain().matches.map((m) => `${m.key}:${render(m)}`)).toEqual(['quiet:a1 b1']);
    // Once nothing is pending, idle keys go.
    expect(engine.stats()).toMatchObject({ keys: 0, partialMatches: 0 });
  });

  it('a partial match whose window is longer than the idle TTL times out instead of vanishing with its key', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')).within(10_000);
    const engine = engineFor(pattern, { idleKeyTtlNs: 1_000 });
    engine.ingest({ event: { name: 'a1', key: 'quiet' }, ts: 1_000, topic: 't', partition: 0, offset: '0' });
    engine.advanceWatermark(Infinity);
    const out = engine.drain();
    expect(out.timeouts.map((t) => [t.key, render(t), t.timeoutTs])).toEqual([['quiet', 'a1', 11_000]]);
    expect(engine.stats().keys).toBe(0);
  });
});

describe('after-match skip strategies (Flink CEP documentation examples)', () => {
  const bPlusC = (skip: SkipStrategy) => Pattern.begin<Tick>('b', skip).where(is('b')).oneOrMore().next('c').where(is('c'));
  const input = ['b1', 'b2', 'b3', 'c'];

  it.each([
    ['noSkip', AfterMatchSkip.noSkip(), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']],
    ['skipToNext', AfterMatchSkip.skipToNext(), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']],
    ['skipPastLastEvent', AfterMatchSkip.skipPastLastEvent(), ['b1 b2 b3 c']],
    ['skipToFirst(b)', AfterMatchSkip.skipToFirst('b'), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']],
    ['skipToLast(b)', AfterMatchSkip.skipToLast('b'), ['b1 b2 b3 c', 'b3 c']],
  ])('%s on "b+ c" over b1 b2 b3 c', (_name, skip, expected) => {
    expect(run(bPlusC(skip), input)).toEqual(expected);
  });

  it('skipToFirst(c) on "(a|b|c) (b|c) c+.greedy d" over a b c1 c2 c3 d', () => {
    const build = (skip: SkipStrategy) =>
      Pattern.begin<Tick>('first', skip)
        .where(is('a', 'b', 'c'))
        .followedBy('second')
        .where(is('b', 'c'))
        .followedBy('c')
        .where(is('c'))
        .oneOrMore()
        .greedy()
        .followedBy('d')
        .where(is('d'));
    const input2 = ['a', 'b', 'c1', 'c2', 'c3', 'd'];
    expect(run(build(AfterMatchSkip.noSkip()), input2)).toEqual(['a b c1 c2 c3 d', 'b c1 c2 c3 d', 'c1 c2 c3 d']);
    expect(run(build(AfterMatchSkip.skipToFirst('c')), input2)).toEqual(['a b c1 c2 c3 d', 'c1 c2 c3 d']);
  });

  it('skipToNext on "a b+" over a b1 b2 b3 emits only a b1', () => {
    const build = (skip: SkipStrategy) => Pattern.begin<Tick>('a', skip).where(is('a')).followedBy('b').where(is('b')).oneOrMore();
    expect(run(build(AfterMatchSkip.noSkip()), ['a', 'b1', 'b2', 'b3'])).toEqual(['a b1', 'a b1 b2', 'a b1 b2 b3']);
    expect(run(build(AfterMatchSkip.skipToNext()), ['a', 'b1', 'b2', 'b3'])).toEqual(['a b1']);
  });
});

describe('matches', () => {
  it('a match names the pattern version, the key, each event id per stage and the window', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).followedBy('b').where(is('b')).within(5_000);
    const engine = engineFor(pattern);
    for (const record of records(['a1', 'b1'], 'AAPL')) engine.ingest(record);
    engine.advanceWatermark(Infinity);
    expect(engine.drain().matches).toEqual([
      {
        patternId: 'p',
        version: 1,
        key: 'AAPL',
        events: {
          a: [{ topic: 't', partition: 0, offset: '0', ts: 1_000, event: { name: 'a1', key: 'AAPL' } }],
          b: [{ topic: 't', partition: 0, offset: '1', ts: 2_000, event: { name: 'b1', key: 'AAPL' } }],
        },
        windowStart: 1_000,
        windowEnd: 6_000,
        lastEventTs: 2_000,
      },
    ]);
  });

  it('keys are matched independently', () => {
    const pattern = Pattern.begin<Tick>('a').where(is('a')).next('b').where(is('b'));
    const engine = engineFor(pattern);
    const mixed = [...records(['a1', 'b1'], 'X', 2), ...records(['a2', 'b2'], 'Y', 2)].map((r, i) => ({ ...r, ts: r.ts + (i % 2), offset: String(i) }));
    mixed.sort((x, y) => x.ts - y.ts).forEach((r) => engine.ingest(r));
    engine.advanceWatermark(Infinity);
    expect(engine.drain().matches.map((m) => `${m.key}:${render(m)}`).sort()).toEqual(['X:a1 b1', 'Y:a2 b2']);
  });
});
