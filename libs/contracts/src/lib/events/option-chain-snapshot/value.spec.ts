import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compatibilityIssues, type JsonSchema } from '../../compatibility';
import { jsonSchemaOf } from '../../json-schema';
import { sampleEvent } from '../../samples';
import { decodeEvent, validateEvent } from '../../validation';
import * as OptionChainSnapshot from './index';

const SCHEMAS = join(__dirname, '..', '..', '..', '..', 'schemas');
const NOW_MS = Date.UTC(2025, 2, 21, 15);

function withVendor(vendor: unknown): OptionChainSnapshot.Value {
  const chain = sampleEvent('options.chains');
  return { ...chain, contracts: chain.contracts.map((row, index) => (index === 0 ? { ...row, vendor } : row)) } as OptionChainSnapshot.Value;
}

describe('OptionChainSnapshot v2: the vendor IV and Greeks', () => {
  it("carries the vendor's IV and whichever Greeks it sent next to the ones computed here", () => {
    const chain = withVendor({ source: 'alpaca', iv: 0.2731, greeks: { delta: 0.49, theta: -0.11 } });
    expect(validateEvent('options.chains', chain, { nowMs: NOW_MS })).toEqual({ ok: true, value: chain });
  });

  it('refuses a vendor block naming no source, a negative IV or an unknown Greek, naming the field', () => {
    const noSource = validateEvent('options.chains', withVendor({ iv: 0.2 }), { nowMs: NOW_MS });
    expect(noSource.ok ? [] : noSource.errors).toEqual([{ path: '/contracts/0/vendor/source', message: 'required' }]);
    const negative = validateEvent('options.chains', withVendor({ source: 'alpaca', iv: -0.1 }), { nowMs: NOW_MS });
    expect(negative.ok ? [] : negative.errors.map((error) => error.path)).toEqual(['/contracts/0/vendor/iv']);
    const unknown = validateEvent('options.chains', withVendor({ source: 'alpaca', greeks: { vanna: 0.1 } }), { nowMs: NOW_MS });
    expect(unknown.ok ? [] : unknown.errors.map((error) => error.path)).toEqual(['/contracts/0/vendor/greeks/vanna']);
  });

  it('reads a record an older collector wrote with v1 (no vendor field)', () => {
    const v1Record = JSON.stringify(sampleEvent('options.chains'));
    expect(decodeEvent('options.chains', v1Record, { schemaVersion: '1', nowMs: NOW_MS }).contracts).toHaveLength(2);
  });

  it('differs from the published v1 only by the optional vendor field, which v1 readers ignore', () => {
    const v1 = JSON.parse(readFileSync(join(SCHEMAS, 'OptionChainSnapshot.v1.json'), 'utf8')) as JsonSchema;
    const v2 = jsonSchemaOf(OptionChainSnapshot) as JsonSchema;
    expect(compatibilityIssues(v1, v2)).toEqual([]);
    const contractV1 = ((v1['properties'] as Record<string, JsonSchema>)['contracts']['items'] as JsonSchema)['properties'] as object;
    const contractV2 = ((v2['properties'] as Record<string, JsonSchema>)['contracts']['items'] as JsonSchema)['properties'] as object;
    expect(Object.keys(contractV2).filter((field) => !(field in contractV1))).toEqual(['vendor']);
  });
});
