import { AfterMatchSkip } from '../pattern';
import { BUILTIN_PATTERNS, defaultRules } from './builtins';
import { compileRule } from './compile';
import { replayRule } from './harness';
import { paramTable } from './params';
import { RuleError, type RuleDocument, type RuleSpec } from './rule';
import { ScenarioBuilder } from './scenario';

const base: RuleSpec = { id: 'surge', version: 2, enabled: true, severity: 'warning', builtin: 'MOMENTUM_SURGE' };

function error(spec: unknown): string {
  try {
    compileRule(spec as RuleSpec);
  } catch (e) {
    expect(e).toBeInstanceOf(RuleError);
    return (e as Error).message;
  }
  throw new Error('compiled');
}

describe('compileRule', () => {
  it('gives one pattern with the rule id and version, the built-in defaults merged with the params, and the inputs', () => {
    const rule = compileRule({ ...base, params: { windowMs: 30_000, outOfOrdernessMs: 250 } });
    expect(rule.options.patterns.map((p) => [p.id, p.version])).toEqual([['surge', 2]]);
    expect(rule.inputs).toEqual(['market.trades']);
    expect(rule.params).toMatchObject({ windowMs: 30_000, baselineMs: 1_800_000, minPriceChangePct: 1 });
    expect(rule.options.outOfOrdernessNs).toBe(250_000_000);
    expect(rule.options.idleKeyTtlNs).toBe(3_600_000_000_000);
    expect(rule.options.aggregates?.map((a) => [a.name, a.windowNs])).toEqual([
      ['px', 30e9],
      ['volume', 30e9],
      ['baseline', 1_800e9],
    ]);
  });

  it('compiles every default rule, each enabled with its built-in severity and a description', () => {
    const rules = defaultRules();
    expect(rules.map((r) => r.builtin)).toEqual(Object.keys(BUILTIN_PATTERNS));
    expect(rules.map((r) => r.id)).toEqual(Object.keys(BUILTIN_PATTERNS).map((n) => n.toLowerCase()));
    for (const spec of rules) {
      expect(spec).toMatchObject({ version: 1, enabled: true, severity: BUILTIN_PATTERNS[spec.builtin as string].severity });
      const rule = compileRule(spec);
      expect(rule.inputs.length).toBeGreaterThan(0);
      expect(rule.options.patterns).toHaveLength(1);
    }
    expect(rules.find((r) => r.id === 'risk_breach')?.severity).toBe('critical');
  });

  it('places rules whose inputs are not partitioned by their key on one global engine, the others per partition', () => {
    const placements = Object.fromEntries(defaultRules().map((spec) => [spec.id, compileRule(spec).placement]));
    expect(placements).toEqual({
      momentum_surge: 'partitioned',
      volatility_spike: 'partitioned',
      liquidity_drain: 'partitioned',
      price_divergence: 'partitioned',
      volume_anomaly: 'partitioned',
      option_flow: 'partitioned',
      arbitrage_opportunity: 'partitioned',
      risk_breach: 'global',
      correlation_break: 'global',
      sentiment_price: 'partitioned',
    });
    expect(compileRule({ ...base, params: { source: 'candles' } }).placement).toBe('global');
    const document: RuleDocument = { inputs: ['market.trades'], keyBy: 'symbol', pattern: { stages: [{ name: 'a', where: { field: 'price', op: '>', to: { value: 1 } } }], within: 1e9 } };
    const spec: RuleSpec = { id: 'doc', version: 1, enabled: true, severity: 'info', document };
    expect(compileRule(spec).placement).toBe('partitioned');
    expect(compileRule({ ...spec, document: { ...document, keyBy: 'exchange', placement: 'global' } }).placement).toBe('global');
    expect(compileRule({ ...spec, document: { ...document, inputs: ['cdc.trading.positions'], keyBy: 'after.account' } }).placement).toBe('global');
    expect(error({ ...spec, document: { ...document, placement: 'everywhere' } })).toBe(`document.placement: need 'partitioned' or 'global', got "everywhere"`);
  });

  it('documents every parameter with its default and bounds', () => {
    for (const builtin of Object.values(BUILTIN_PATTERNS)) {
      const table = paramTable(builtin.params);
      for (const name of Object.keys(builtin.params)) expect(table).toContain(`| \`${name}\` |`);
      for (const spec of Object.values(builtin.params)) expect(spec.description.length).toBeGreaterThan(10);
    }
  });

  it('names the field that is wrong', () => {
    expect(error({ ...base, builtin: 'MOMENTUM_SURGES' })).toMatch(/^builtin: unknown pattern "MOMENTUM_SURGES" \(known: MOMENTUM_SURGE, /);
    expect(error({ ...base, params: { windowMs: 'fast' } })).toBe('params.windowMs: need an integer in [1000, 3600000], got "fast"');
    expect(error({ ...base, params: { windowMs: 999 } })).toBe('params.windowMs: 999 is outside [1000, 3600000] ms');
    expect(error({ ...base, params: { minPriceChangePct: 1.5, windwMs: 1 } })).toMatch(/^params\.windwMs: unknown parameter \(known: source, windowMs, /);
    expect(error({ ...base, params: { source: 'quotes' } })).toBe('params.source: need one of trades, candles, got "quotes"');
    expect(error({ ...base, params: { windowMs: 60_000, baselineMs: 100_000 } })).toBe('params.baselineMs: 100000 must be at least twice windowMs (60000)');
    expect(error({ ...base, builtin: 'OPTION_FLOW', params: { kinds: ['sweep', 'spread'] } })).toBe('params.kinds[1]: need one of sweep, block, split, unusual_volume, got "spread"');
    expect(error({ ...base, builtin: 'RISK_BREACH', params: { positionsTopic: 'positions' } })).toMatch(/^params\.positionsTopic: need a string matching/);
    expect(error({ ...base, params: [] })).toBe('params: need an object of parameters, got a list');
    expect(error({ ...base, id: 'Surge' })).toMatch(/^id: need a machine name/);
    expect(error({ ...base, version: 0 })).toBe('version: need an integer >= 1, got 0');
    expect(error({ ...base, enabled: 'yes' })).toBe('enabled: need true or false, got "yes"');
    expect(error({ ...base, severity: 'high' })).toBe('severity: need one of info, warning, critical, got "high"');
    expect(error({ id: 'x', version: 1, enabled: true, severity: 'info' })).toBe('builtin: give either builtin (with params) or document, got neither');
    expect(error(null)).toBe('rule: need an object, got null');
  });

  describe('document rules', () => {
    const document: RuleDocument = {
      inputs: ['news.sentiment', 'market.trades'],
      keyBy: 'symbol',
      pattern: {
        stages: [
          { name: 'negative', where: { all: [{ field: '$topic', op: '==', to: { value: 'news.sentiment' } }, { field: 'sentiment', op: '<', to: { value: -0.5 } }] } },
          { name: 'drop', where: { all: [{ field: '$topic', op: '==', to: { value: 'market.trades' } }, { field: 'price', op: '<', to: { aggregate: 'px', stat: 'mean', factor: 0.98 } }] } },
        ],
        within: 600e9,
        skip: AfterMatchSkip.skipPastLastEvent(),
      },
      aggregates: [{ name: 'px', windowNs: 60e9, field: 'price' }],
    } as RuleDocument;
    const spec: RuleSpec = { id: 'news_then_drop', version: 1, enabled: true, severity: 'info', description: 'News then drop', document };

    it('reads fields of the record value, $topic for the topic, and keys by the named field', () => {
      const rule = compileRule(spec);
      expect(rule.inputs).toEqual(['news.sentiment', 'market.trades']);
      // News items carry `symbols`, not `symbol`: keyed by a field they lack, they only move event time.
      const scenario = new ScenarioBuilder();
      for (let i = 0; i < 10; i++) scenario.at(i * 1_000).trade('TSLA', 260);
      scenario.at(10_000).news(['TSLA'], -0.9).at(20_000).trade('TSLA', 250).at(30_000).trade('GM', 1);
      expect(replayRule(rule, scenario.events).matches).toHaveLength(0);
      const bySymbolField = compileRule({ ...spec, document: { ...document, inputs: ['market.trades'], pattern: { ...document.pattern, stages: [document.pattern.stages[1]] } } });
      const { matches, alerts } = replayRule(bySymbolField, scenario.events);
      expect(matches.map((m) => m.key)).toEqual(['TSLA']);
      expect(alerts[0].message).toMatch(/^News then drop \(TSLA\): drop x1 within 0 s/);
    });

    it('names what is wrong in the document', () => {
      expect(error({ ...spec, document: { ...document, inputs: ['market.trades', 'market.trade'] } })).toBe('document.inputs[1]: unknown topic "market.trade"');
      expect(error({ ...spec, document: { ...document, inputs: [] } })).toBe('document.inputs: need a non-empty list of topics');
      expect(error({ ...spec, document: { ...document, keyBy: '' } })).toBe('document.keyBy: need the name of a field of the events, got ""');
      expect(error({ ...spec, document: { ...document, pattern: { ...document.pattern, within: undefined } } })).toMatch(/^document\.pattern\.within: need a positive duration/);
      expect(error({ ...spec, document: { ...document, pattern: { ...document.pattern, stages: [{ name: 'a', where: { field: 'x', op: '=~', to: { value: 1 } } }] } } })).toBe(
        "document.pattern: stages[0].where.op: unknown operator '=~'",
      );
      expect(error({ ...spec, document: { ...document, aggregates: [{ name: 'px', windowNs: 0, field: 'price' }] } })).toBe('document.aggregates[0].windowNs: need a positive number of ns, got 0');
      expect(error({ ...spec, params: { a: 1 } })).toMatch(/^params: only a builtin rule takes params/);
      expect(error({ ...spec, builtin: 'OPTION_FLOW' })).toBe('builtin: give either builtin (with params) or document, not both');
    });
  });
});
