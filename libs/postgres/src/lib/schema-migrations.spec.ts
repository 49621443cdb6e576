import { quoteIdentifier } from './schema-migrations';

describe('quoteIdentifier', () => {
  it('quotes a name so mixed case and reserved words survive', () => {
    expect(quoteIdentifier('Trading')).toBe('"Trading"');
    expect(quoteIdentifier('order')).toBe('"order"');
  });

  it('doubles embedded quotes so a name cannot break out of the identifier', () => {
    expect(quoteIdentifier('a"; DROP SCHEMA x; --')).toBe('"a""; DROP SCHEMA x; --"');
  });
});
