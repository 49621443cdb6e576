import { ingestionRefusal, namespacedIdempotencyKey } from './ingestion-policy';

describe('which streams can be ingested through the gateway', () => {
  it('takes the raw streams a feed writes', () => {
    for (const stream of [
      'market.trades',
      'market.quotes',
      'options.quotes',
      'options.trades',
      'market.orderbook',
      'news.sentiment',
    ]) {
      expect(ingestionRefusal(stream)).toBeUndefined();
    }
  });

  it('refuses what the platform derives, decides or captures, whatever the scope', () => {
    for (const stream of [
      'market.trades.validated',
      'options.quotes.enriched',
      'candles.1m',
      'cep.alerts',
      'cep.rules',
      'cdc.transactions',
      'quality.events',
    ]) {
      expect(ingestionRefusal(stream)).toMatch(`${stream} is written by the platform itself`);
    }
    expect(ingestionRefusal('market.trades.dlq')).toMatch(/dead-letter topic; replay/);
  });

  it('keeps one caller from colliding with another caller’s idempotency keys', () => {
    expect(namespacedIdempotencyKey('feed-a', 'order-1')).not.toEqual(
      namespacedIdempotencyKey('feed-b', 'order-1'),
    );
    expect(namespacedIdempotencyKey('feed-a', undefined)).toBeUndefined();
  });
});
