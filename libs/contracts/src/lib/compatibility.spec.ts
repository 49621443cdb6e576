import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compatibilityIssues, type JsonSchema } from './compatibility';

/** A small published schema to evolve in each test. */
const v1: JsonSchema = {
  type: 'object',
  required: ['symbol', 'price', 'side', 'ts'],
  properties: {
    symbol: { type: 'string', pattern: '^[A-Z]+$' },
    price: { type: 'number', minimum: 0 },
    size: { type: 'integer', minimum: 1 },
    side: {
      anyOf: [
        { const: 'buy', type: 'string' },
        { const: 'sell', type: 'string' },
      ],
    },
    venue: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    legs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['symbol'],
        properties: { symbol: { type: 'string' } },
        additionalProperties: false,
      },
    },
    ts: { type: 'string' },
  },
  additionalProperties: false,
};

function evolve(
  change: (
    schema: { required: string[]; properties: Record<string, Record<string, unknown>> } & Record<
      string,
      unknown
    >,
  ) => void,
): JsonSchema {
  const copy = structuredClone(v1) as Parameters<typeof change>[0];
  change(copy);
  return copy;
}

function summary(previous: JsonSchema, current: JsonSchema): string[] {
  return compatibilityIssues(previous, current).map(
    (issue) => `${issue.direction} ${issue.path}: ${issue.message}`,
  );
}

describe('schema compatibility checker', () => {
  it('accepts an unchanged schema', () => {
    expect(summary(v1, structuredClone(v1))).toEqual([]);
  });

  it('accepts a new optional field', () => {
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['exchange'] = { type: 'string' })),
      ),
    ).toEqual([]);
  });

  it('accepts removing an optional field', () => {
    expect(
      summary(
        v1,
        evolve((s) => delete s.properties['size']),
      ),
    ).toEqual([]);
  });

  it('accepts a new enum value', () => {
    expect(
      summary(
        v1,
        evolve((s) =>
          (s.properties['side']['anyOf'] as unknown[]).push({ const: 'sell_short', type: 'string' }),
        ),
      ),
    ).toEqual([]);
  });

  it('fails on a removed required field', () => {
    expect(
      summary(
        v1,
        evolve((s) => {
          delete s.properties['price'];
          s.required = s.required.filter((name) => name !== 'price');
        }),
      ),
    ).toEqual(['forward /price: required field removed: readers of the previous version require it']);
  });

  it('fails on a new required field', () => {
    expect(
      summary(
        v1,
        evolve((s) => {
          s.properties['exchange'] = { type: 'string' };
          s.required.push('exchange');
        }),
      ),
    ).toEqual(['backward /exchange: new required field: records of the previous version lack it']);
  });

  it('fails when an optional field becomes required or a required one optional', () => {
    expect(
      summary(
        v1,
        evolve((s) => s.required.push('size')),
      ),
    ).toEqual([
      'backward /size: optional field became required: records of the previous version may lack it',
    ]);
    expect(
      summary(
        v1,
        evolve((s) => (s.required = s.required.filter((name) => name !== 'ts'))),
      ),
    ).toEqual(['forward /ts: required field became optional: readers of the previous version require it']);
  });

  it('fails on a type change, in either direction', () => {
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['price'] = { type: 'string' })),
      ),
    ).toEqual([
      'backward /price: type narrowed: number no longer accepted',
      'forward /price: type widened: string now accepted',
    ]);
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['size'] = { type: 'number', minimum: 1 })),
      ),
    ).toEqual(['forward /size: type widened from integer to number']);
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['venue'] = { type: 'string' })),
      ),
    ).toEqual(['backward /venue: type narrowed: null no longer accepted']);
  });

  it('fails on a removed enum value', () => {
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['side']['anyOf'] = [{ const: 'buy', type: 'string' }])),
      ),
    ).toEqual(['backward /side: enum value "sell" removed']);
  });

  it('fails when additionalProperties is tightened', () => {
    const open = evolve((s) => delete s['additionalProperties']);
    expect(summary(open, v1)).toEqual([
      'backward /: additionalProperties tightened: records with fields the schema does not list are now rejected',
    ]);
  });

  it('fails when a constraint tightens or loosens', () => {
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['price'] = { type: 'number', exclusiveMinimum: 0 })),
      ),
    ).toEqual(['backward /price: minimum tightened from >= 0 to > 0']);
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['price'] = { type: 'number' })),
      ),
    ).toEqual(['forward /price: minimum loosened from >= 0 to none']);
    expect(
      summary(
        v1,
        evolve((s) => (s.properties['symbol'] = { type: 'string', pattern: '^[A-Z.]+$' })),
      ),
    ).toEqual(['backward /symbol: pattern changed from ^[A-Z]+$ to ^[A-Z.]+$']);
  });

  it('finds changes inside array items and names their path', () => {
    const current = evolve((s) => {
      const items = s.properties['legs']['items'] as {
        required: string[];
        properties: Record<string, unknown>;
      };
      items.properties['ratio'] = { type: 'integer' };
      items.required.push('ratio');
    });
    expect(summary(v1, current)).toEqual([
      'backward /legs/*/ratio: new required field: records of the previous version lack it',
    ]);
  });

  it('catches an incompatible edit of a real published schema', () => {
    const published = JSON.parse(
      readFileSync(join(__dirname, '../../schemas/OptionQuote.v1.json'), 'utf8'),
    ) as JsonSchema;
    const edited = structuredClone(published) as { properties: Record<string, unknown>; required: string[] };
    delete edited.properties['bidExchange'];
    edited.required = edited.required.filter((name) => name !== 'bidExchange');
    edited.properties['right'] = { type: 'string', pattern: '^(call|put)$' };
    const issues = compatibilityIssues(published, edited as unknown as JsonSchema);
    expect(issues.map((issue) => `${issue.direction} ${issue.path}`)).toEqual([
      'forward /right',
      'forward /bidExchange',
    ]);
  });
});
