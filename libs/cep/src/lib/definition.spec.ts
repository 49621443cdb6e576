import { CepEngine } from './engine';
import { patternFromDocument, patternFromYaml } from './definition';
import type { CepRecord } from './watermark';

interface Quote {
  symbol: string;
  px: number;
  sentiment?: number;
}

function feed(pattern: ReturnType<typeof patternFromYaml<Quote>>, events: Quote[]): string[][] {
  const engine = new CepEngine<Quote>({ patterns: [{ id: 'SENTIMENT_PRICE', version: 3, pattern }], keyBy: (q) => q.symbol, outOfOrdernessNs: 0 });
  events.forEach((event, i) => engine.ingest({ event, ts: (i + 1) * 1_000, topic: 't', partition: 0, offset: String(i) } as CepRecord<Quote>));
  engine.advanceWatermark(Infinity);
  return engine.drain().matches.map((m) => Object.values(m.events).flat().map((e) => String(e.event.px)));
}

describe('patterns as YAML/JSON documents', () => {
  const yaml = `
stages:
  - name: negative
    where: { field: sentiment, op: "<", to: { value: -0.5 } }
  - name: drop
    contiguity: followedBy
    where: { field: px, op: "<", to: { stage: negative, field: px, factor: 0.98 } }
within: 10000
skip: { kind: skipPastLastEvent }
`;

  it('a YAML rule with an iterative condition fires on sentiment below -0.5 then a 2% drop', () => {
    const pattern = patternFromYaml<Quote>(yaml);
    expect(feed(pattern, [{ symbol: 'X', px: 100, sentiment: -0.7 }, { symbol: 'X', px: 99 }, { symbol: 'X', px: 97.5 }])).toEqual([['100', '97.5']]);
  });

  it('the same rule does not fire on a near miss (a 1.5% drop)', () => {
    const pattern = patternFromYaml<Quote>(yaml);
    expect(feed(pattern, [{ symbol: 'X', px: 100, sentiment: -0.7 }, { symbol: 'X', px: 98.5 }])).toEqual([]);
  });

  it('named predicates from code take parameters from the document', () => {
    const pattern = patternFromDocument<Quote>(
      { stages: [{ name: 'big', where: { predicate: 'above', params: { px: 10 } }, times: 2, consecutive: true }] },
      { above: (params) => (q) => q.px > Number(params['px']) },
    );
    expect(feed(pattern, [{ symbol: 'X', px: 11 }, { symbol: 'X', px: 12 }, { symbol: 'X', px: 9 }])).toEqual([['11', '12']]);
  });

  it('a document naming an unknown operator or predicate is refused with its location', () => {
    expect(() => patternFromDocument<Quote>({ stages: [{ name: 'a', where: { field: 'px', op: '=~' as '==', to: { value: 1 } } }] })).toThrow('stages[0].where.op');
    expect(() => patternFromDocument<Quote>({ stages: [{ name: 'a', where: { predicate: 'nope' } }] })).toThrow("no predicate named 'nope'");
  });

  it('comparisons with constants: strings by equality, a missing field satisfies no ordering, all/any of several parts', () => {
    type Tagged = Quote & { venue?: string };
    const single = (where: object) => patternFromDocument<Tagged>({ stages: [{ name: 'hit', where: where as never }] });
    const events: Tagged[] = [
      { symbol: 'X', px: 1, venue: 'XNAS' },
      { symbol: 'X', px: 2 },
      { symbol: 'X', px: 3, venue: 'ARCX', sentiment: -0.7 },
    ];
    expect(feed(single({ field: 'venue', op: '==', to: { value: 'ARCX' } }), events)).toEqual([['3']]);
    expect(feed(single({ field: 'venue', op: '!=', to: { value: 'ARCX' } }), events)).toEqual([['1'], ['2']]);
    expect(feed(single({ field: 'sentiment', op: '<=', to: { value: 0 } }), events)).toEqual([['3']]);
    expect(feed(single({ field: 'sentiment', op: '>', to: { value: -1 } }), events)).toEqual([['3']]);
    const three = (op: 'all' | 'any') =>
      single({ [op]: [{ field: 'px', op: '>=', to: { value: 2 } }, { field: 'symbol', op: '==', to: { value: 'X' } }, { field: 'venue', op: '==', to: { value: 'ARCX' } }] });
    expect(feed(three('all'), events)).toEqual([['3']]);
    expect(feed(three('any'), events)).toEqual([['1'], ['2'], ['3']]);
  });

  it('field paths read only the event own properties', () => {
    const pattern = patternFromDocument<Quote>({ stages: [{ name: 'a', where: { field: 'constructor', op: '!=', to: { value: 0 } } }, { name: 'b', where: { field: '__proto__.x', op: '==', to: { value: 1 } } }] });
    expect(feed(pattern, [{ symbol: 'X', px: 1 }, { symbol: 'X', px: 2 }])).toEqual([]);
  });
});
