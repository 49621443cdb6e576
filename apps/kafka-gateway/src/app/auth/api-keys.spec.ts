import { ApiKeyRegistry, parseApiKeys, scopeGrants } from './api-keys';

describe('GATEWAY_API_KEYS', () => {
  it('reads name:key:scope|scope entries separated by commas', () => {
    expect(parseApiKeys('feeds:feed-key-0123456789:produce:quotes.*|read:candles.1m, ops:ops-key-0123456789abc:admin')).toEqual([
      { name: 'feeds', key: 'feed-key-0123456789', scopes: ['produce:quotes.*', 'read:candles.1m'] },
      { name: 'ops', key: 'ops-key-0123456789abc', scopes: ['admin'] },
    ]);
  });

  it('refuses an unknown scope, a short key or a repeated name, naming the entry but never the key', () => {
    expect(() => parseApiKeys('feeds:feed-key-0123456789:write:quotes')).toThrow(/entry 1 \(feeds\): unknown scope/);
    expect(() => parseApiKeys('feeds:short:admin')).toThrow('entry 1 (feeds): the key must be at least 16 characters');
    expect(() => parseApiKeys('a:key-aaaaaaaaaaaaaaaa:admin,a:key-bbbbbbbbbbbbbbbb:admin')).toThrow('entry 2 (a): the name is used twice');
    try {
      parseApiKeys('feeds:secret-value-0123456789:write');
    } catch (error) {
      expect(String(error)).not.toContain('secret-value');
    }
  });
});

describe('scopes', () => {
  it('a wildcard grants every stream it matches for the same action only', () => {
    expect(scopeGrants('produce:*', 'produce:options.quotes.v1')).toBe(true);
    expect(scopeGrants('produce:options.*', 'produce:options.quotes.v1')).toBe(true);
    expect(scopeGrants('produce:options.*', 'produce:equities.trades.v1')).toBe(false);
    expect(scopeGrants('produce:*', 'read:options.quotes.v1')).toBe(false);
    expect(scopeGrants('read:options.quotes.v1', 'read:options.quotes.v1')).toBe(true);
  });

  it('a dot in a scope is not a wildcard', () => {
    expect(scopeGrants('produce:a.b', 'produce:axb')).toBe(false);
  });

  it('admin grants administration only, not producing', () => {
    expect(scopeGrants('admin', 'admin')).toBe(true);
    expect(scopeGrants('admin', 'produce:options.quotes.v1')).toBe(false);
  });
});

describe('ApiKeyRegistry', () => {
  const registry = new ApiKeyRegistry([
    { name: 'feeds', key: 'feed-key-0123456789', scopes: ['produce:*'] },
    { name: 'ops', key: 'ops-key-0123456789abc', scopes: ['admin'] },
  ]);

  it('finds the holder of a key and nothing for an unknown key or a prefix of a known one', () => {
    expect(registry.authenticate('ops-key-0123456789abc')).toEqual({ name: 'ops', scopes: ['admin'] });
    expect(registry.authenticate('ops-key-0123456789ab')).toBeUndefined();
    expect(registry.authenticate('')).toBeUndefined();
  });

  it('allows a request only with a scope that grants it', () => {
    const feeds = registry.authenticate('feed-key-0123456789');
    expect(feeds && ApiKeyRegistry.allows(feeds, 'produce:options.quotes.v1')).toBe(true);
    expect(feeds && ApiKeyRegistry.allows(feeds, 'admin')).toBe(false);
  });
});
