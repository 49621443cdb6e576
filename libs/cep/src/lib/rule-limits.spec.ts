import { CepEngine, type CepEngineOptions } from './engine';
import { Pattern } from './pattern';
import { defaultRules } from './rules/builtins';
import { compileRule, DEFAULT_RULE_LIMITS, formatDuration, type RuleLimits } from './rules/compile';
import { RuleError, type RuleDocument, type RuleSpec } from './rules/rule';
import type { CepRecord } from './watermark';

interface Tick {
  name: string;
  key: string;
}

const SECOND = 1_000_000_000;
const HOUR = 3_600 * SECOND;

/** One record per name, one second apart, all for key `k` unless named otherwise. */
function tick(name: string, second: number, key = 'k'): CepRecord<Tick> {
  return { event: { name, key }, ts: second * SECOND, topic: 't', partition: 0, offset: String(second) };
}

/** "a, then any number of b, then c", every combination of b's: one partial match more per b per open match. */
function combinations(max: number | undefined): CepEngine<Tick> {
  const pattern = Pattern.begin<Tick>('a')
    .where((e) => e.name === 'a')
    .followedByAny('b')
    .where((e) => e.name === 'b')
    .oneOrMore()
    .allowCombinations()
    .followedBy('c')
    .where((e) => e.name === 'c')
    .within(HOUR);
  const options: CepEngineOptions<Tick> = {
    patterns: [{ id: 'p', version: 1, pattern }],
    keyBy: (e) => e.key,
    outOfOrdernessNs: 0,
  };
  return new CepEngine<Tick>(max === undefined ? options : { ...options, maxPartialMatchesPerKey: max });
}

describe('maximum partial matches per key', () => {
  it('without a bound, a combinations pattern grows its partial matches with every event of the key', () => {
    const engine = combinations(undefined);
    engine.ingest(tick('a', 1));
    for (let s = 2; s <= 12; s++) engine.ingest(tick('b', s));
    engine.advanceWatermark(12 * SECOND);
    expect(engine.stats().partialMatches).toBeGreaterThan(1_000);
  });

  it('a key never holds more partial matches than the bound, and the dropped ones are counted', () => {
    const engine = combinations(50);
    engine.ingest(tick('a', 1));
    for (let s = 2; s <= 40; s++) {
      engine.ingest(tick('b', s));
      engine.advanceWatermark(s * SECOND);
      expect(engine.stats().partialMatches).toBeLessThanOrEqual(50);
    }
    const out = engine.drain();
    expect(out.droppedPartialMatches).toBeGreaterThan(0);
    expect(engine.drain().droppedPartialMatches).toBe(0);
  });

  it('the oldest partial matches go first: a match started later still completes', () => {
    const pattern = Pattern.begin<Tick>('a')
      .where((e) => e.name.startsWith('a'))
      .followedBy('c')
      .where((e) => e.name === 'c')
      .within(HOUR);
    const engine = new CepEngine<Tick>({
      patterns: [{ id: 'p', version: 1, pattern }],
      keyBy: (e) => e.key,
      outOfOrdernessNs: 0,
      maxPartialMatchesPerKey: 2,
    });
    ['a1', 'a2', 'a3', 'a4'].forEach((name, i) => engine.ingest(tick(name, i + 1)));
    engine.ingest(tick('c', 10));
    engine.advanceWatermark(Number.POSITIVE_INFINITY);
    const out = engine.drain();
    expect(out.droppedPartialMatches).toBe(2);
    expect(out.matches.map((m) => m.events['a'][0].event.name).sort()).toEqual(['a3', 'a4']);
    expect(out.timeouts).toEqual([]);
  });

  it('the bound is per key: another key keeps its own partial matches', () => {
    const pattern = Pattern.begin<Tick>('a')
      .where((e) => e.name === 'a')
      .followedBy('c')
      .where((e) => e.name === 'c')
      .within(HOUR);
    const engine = new CepEngine<Tick>({
      patterns: [{ id: 'p', version: 1, pattern }],
      keyBy: (e) => e.key,
      outOfOrdernessNs: 0,
      maxPartialMatchesPerKey: 3,
    });
    for (let s = 1; s <= 10; s++) engine.ingest(tick('a', s, 'x'));
    for (let s = 1; s <= 3; s++) engine.ingest(tick('a', 10 + s, 'y'));
    engine.advanceWatermark(20 * SECOND);
    expect(engine.stats()).toMatchObject({ keys: 2, partialMatches: 6 });
    expect(engine.drain().droppedPartialMatches).toBe(7);
  });

  it('a replay drops the same partial matches and finds the same matches (restored from a snapshot half-way)', () => {
    const input = [tick('a', 1), ...Array.from({ length: 20 }, (_, i) => tick('b', i + 2)), tick('c', 30)];
    const straight = combinations(40);
    input.forEach((record) => straight.ingest(record));
    straight.advanceWatermark(Number.POSITIVE_INFINITY);
    const expected = straight.drain();

    const first = combinations(40);
    input.slice(0, 10).forEach((record) => first.ingest(record));
    const before = first.drain();
    const resumed = CepEngine.restore(
      {
        patterns: [{ id: 'p', version: 1, pattern: combinationsPattern() }],
        keyBy: (e: Tick) => e.key,
        outOfOrdernessNs: 0,
        maxPartialMatchesPerKey: 40,
      },
      JSON.parse(JSON.stringify(first.snapshot())),
    );
    input.slice(10).forEach((record) => resumed.ingest(record));
    resumed.advanceWatermark(Number.POSITIVE_INFINITY);
    const after = resumed.drain();
    expect(before.droppedPartialMatches + after.droppedPartialMatches).toBe(expected.droppedPartialMatches);
    expect(after.matches.length).toBe(expected.matches.length);
  });
});

function combinationsPattern(): Pattern<Tick> {
  return Pattern.begin<Tick>('a')
    .where((e) => e.name === 'a')
    .followedByAny('b')
    .where((e) => e.name === 'b')
    .oneOrMore()
    .allowCombinations()
    .followedBy('c')
    .where((e) => e.name === 'c')
    .within(HOUR);
}

const documentRule = (pattern: Record<string, unknown>): RuleSpec => ({
  id: 'burst',
  version: 1,
  enabled: true,
  severity: 'info',
  document: {
    inputs: ['market.trades'],
    keyBy: 'symbol',
    pattern: { stages: [{ name: 'trade', oneOrMore: true, allowCombinations: true }], ...pattern },
  } as unknown as RuleDocument,
});

function refusal(spec: RuleSpec, limits?: RuleLimits): string {
  try {
    compileRule(spec, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(RuleError);
    return (error as Error).message;
  }
  throw new Error('the rule compiled');
}

describe('rule limits', () => {
  it('every built-in rule with its default parameters fits the default limits', () => {
    for (const spec of defaultRules()) expect(() => compileRule(spec, DEFAULT_RULE_LIMITS)).not.toThrow();
  });

  it('a pattern document whose within exceeds the maximum is refused, naming the field, the maximum and the setting', () => {
    expect(refusal(documentRule({ within: 7 * 24 * HOUR }))).toBe(
      'document.pattern.within: 7d exceeds the maximum 6h (CEP_MAX_WITHIN_MS)',
    );
  });

  it('a built-in whose window parameter exceeds the maximum is refused, naming the parameter', () => {
    const spec: RuleSpec = {
      id: 'news',
      version: 1,
      enabled: true,
      severity: 'warning',
      builtin: 'SENTIMENT_PRICE',
      params: { windowMs: 86_400_000 },
    };
    expect(refusal(spec)).toBe('params.windowMs: 1d exceeds the maximum 6h (CEP_MAX_WITHIN_MS)');
    expect(() => compileRule(spec, { ...DEFAULT_RULE_LIMITS, maxWithinNs: 24 * HOUR })).not.toThrow();
  });

  it('oneOrMore or allowCombinations without within is refused, naming within and the stage', () => {
    expect(refusal(documentRule({}))).toMatch(/^document\.pattern\.within: need a positive duration/);
    const rule = compileRule(documentRule({ within: 10 * SECOND }));
    expect(rule.options.maxPartialMatchesPerKey).toBe(DEFAULT_RULE_LIMITS.maxPartialMatchesPerKey);
  });

  it('the engine of a compiled rule carries the configured partial-match bound', () => {
    const rule = compileRule(defaultRules()[0], { maxWithinNs: HOUR, maxPartialMatchesPerKey: 25 });
    expect(rule.options.maxPartialMatchesPerKey).toBe(25);
  });

  it('durations read the way an operator writes them', () => {
    expect(
      [7 * 24 * HOUR, 6 * HOUR, 90 * 60 * SECOND, 45 * SECOND, 250_000_000, 1_500_000_000].map(
        formatDuration,
      ),
    ).toEqual(['7d', '6h', '90m', '45s', '250ms', '1.5s']);
  });
});
