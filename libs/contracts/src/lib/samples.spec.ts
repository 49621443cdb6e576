import { dlqTopicOf } from './headers';
import { sampleEvent, SAMPLE_EVENT_TIME } from './samples';

describe('sampleEvent', () => {
  it('hands out a fresh copy each call, so a test may mutate it', () => {
    const first = sampleEvent('options.chains');
    first.contracts[0].bid = 0;
    expect(sampleEvent('options.chains').contracts[0].bid).toBe(6.1);
  });

  it('applies top-level overrides', () => {
    expect(sampleEvent('market.trades', { symbol: 'MSFT', price: 401.2 })).toMatchObject({
      symbol: 'MSFT',
      price: 401.2,
      ts: SAMPLE_EVENT_TIME,
    });
  });

  it('builds change events for any table topic and DLQ records for any DLQ topic', () => {
    expect(sampleEvent('cdc.trading.fills')).toMatchObject({ source: { schema: 'trading', table: 'fills' } });
    expect(sampleEvent(dlqTopicOf('options.flow'))).toMatchObject({ originalTopic: 'options.flow' });
  });

  it('refuses a topic the catalog does not know', () => {
    expect(() => sampleEvent('market-ticks')).toThrow(/no topic "market-ticks"/);
  });
});
