import { grants, scopeGrants, scopeProblem } from './scopes';

describe('scopes', () => {
  it('a * grants exactly one segment, so produce:market.* cannot write the validated stream', () => {
    expect(scopeGrants('produce:market.*', 'produce:market.trades')).toBe(true);
    expect(scopeGrants('produce:market.*', 'produce:market.trades.validated')).toBe(false);
    expect(scopeGrants('produce:*', 'produce:cep.alerts')).toBe(false);
    expect(scopeGrants('produce:*.quotes', 'produce:options.quotes')).toBe(true);
  });

  it('a final > grants one or more segments below the prefix', () => {
    expect(scopeGrants('read:>', 'read:market.trades')).toBe(true);
    expect(scopeGrants('read:market.>', 'read:market.trades.validated')).toBe(true);
    expect(scopeGrants('read:market.>', 'read:market')).toBe(false);
    expect(scopeGrants('read:market.>', 'read:marketing.trades')).toBe(false);
  });

  it('an action never grants another, and admin grants only admin', () => {
    expect(scopeGrants('produce:>', 'read:market.trades')).toBe(false);
    expect(scopeGrants('read:>', 'admin')).toBe(false);
    expect(scopeGrants('admin', 'read:market.trades')).toBe(false);
    expect(grants(['read:cdc.audit', 'admin'], 'admin')).toBe(true);
  });

  it('a segment is matched whole: a dot is not a wildcard and a prefix is not a match', () => {
    expect(scopeGrants('produce:a.b', 'produce:axb')).toBe(false);
    expect(scopeGrants('read:market.trades', 'read:market.trades.validated')).toBe(false);
  });

  it('names what is wrong with a scope a credential cannot hold', () => {
    expect(scopeProblem('write:market.trades')).toMatch(/is not admin, read:<name> or produce:<name>/);
    expect(scopeProblem('read:market.>.x')).toMatch(/'>' before the last segment/);
    expect(scopeProblem('read:market.tr*')).toMatch(/the segment "tr\*"/);
    expect(scopeProblem('read:')).toMatch(/the segment ""/);
    expect(scopeProblem('read:market.*')).toBeUndefined();
    expect(scopeProblem('admin')).toBeUndefined();
  });
});
