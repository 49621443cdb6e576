import { ApiKeyRegistry, DEVELOPMENT_API_KEY, parseApiKeys } from './api-keys';

describe('AUTH_API_KEYS', () => {
  it('reads name:key:scope|scope entries separated by commas', () => {
    expect(
      parseApiKeys(
        'feeds:feed-key-0123456789:produce:options.*|read:candles.1m, ops:ops-key-0123456789abc:admin',
      ),
    ).toEqual([
      { name: 'feeds', key: 'feed-key-0123456789', scopes: ['produce:options.*', 'read:candles.1m'] },
      { name: 'ops', key: 'ops-key-0123456789abc', scopes: ['admin'] },
    ]);
  });

  it('refuses an unknown scope, a short key, a repeated name or the public development key, naming the entry but never the key', () => {
    expect(() => parseApiKeys('feeds:feed-key-0123456789:write:quotes')).toThrow(
      /entry 1 \(feeds\): scope "write:quotes" is not admin/,
    );
    expect(() => parseApiKeys('feeds:feed-key-0123456789:produce:market.tr*')).toThrow(
      /entry 1 \(feeds\): scope "produce:market.tr\*" has the segment/,
    );
    expect(() => parseApiKeys('feeds:short:admin')).toThrow(
      'entry 1 (feeds): the key must be at least 16 characters',
    );
    expect(() => parseApiKeys('a:key-aaaaaaaaaaaaaaaa:admin,a:key-bbbbbbbbbbbbbbbb:admin')).toThrow(
      'entry 2 (a): the name is used twice',
    );
    expect(() => parseApiKeys(`ops:${DEVELOPMENT_API_KEY}:admin`)).toThrow(
      'entry 1 (ops): the development key is public',
    );
    try {
      parseApiKeys('feeds:secret-value-0123456789:write');
    } catch (error) {
      expect(String(error)).not.toContain('secret-value');
    }
  });
});

describe('ApiKeyRegistry', () => {
  const registry = new ApiKeyRegistry([
    { name: 'feeds', key: 'feed-key-0123456789', scopes: ['produce:market.*'] },
    { name: 'ops', key: 'ops-key-0123456789abc', scopes: ['admin'] },
  ]);

  it('finds the holder of a key and nothing for an unknown key or a prefix of a known one', () => {
    expect(registry.authenticate('ops-key-0123456789abc')).toEqual({ name: 'ops', scopes: ['admin'] });
    expect(registry.authenticate('ops-key-0123456789ab')).toBeUndefined();
    expect(registry.authenticate('')).toBeUndefined();
  });
});
