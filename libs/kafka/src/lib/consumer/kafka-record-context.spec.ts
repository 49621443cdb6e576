import { HEADERS } from '@tributary/contracts';
import { KafkaBatchContext, KafkaRecordContext } from './kafka-record-context';
import type { FetchedRecord } from './partition-fetcher';

function message(offset: string, headers: Record<string, Buffer> = {}): FetchedRecord {
  return {
    key: Buffer.from('AAPL'),
    value: Buffer.from('{}'),
    timestamp: 1742567400123n,
    offset: BigInt(offset),
    headers: Object.entries(headers).map(([name, value]) => [Buffer.from(name), value] as const),
  };
}

describe('KafkaRecordContext', () => {
  it('exposes topic, partition, offset, key, headers, event time and correlation ID as text', () => {
    const context = new KafkaRecordContext(
      'market.trades',
      4,
      message('42', {
        [HEADERS.eventTime]: Buffer.from('1742567400123456789'),
        [HEADERS.correlationId]: Buffer.from('corr-1'),
        [HEADERS.schemaVersion]: Buffer.from('1'),
      }),
      'cep-engine',
    );
    expect(context.topic).toBe('market.trades');
    expect(context.partition).toBe(4);
    expect(context.offset).toBe('42');
    expect(context.key).toBe('AAPL');
    expect(context.eventTime).toBe('1742567400123456789');
    expect(context.schemaVersion).toBe('1');
    expect(context.correlationId).toBe('corr-1');
    expect(context.headers).toEqual({
      [HEADERS.eventTime]: '1742567400123456789',
      [HEADERS.correlationId]: 'corr-1',
      [HEADERS.schemaVersion]: '1',
    });
    expect(context.groupId).toBe('cep-engine');
    expect(context.timestamp).toBe('1742567400123');
  });

  it('a header written twice reads as its last value, as with the Java client', () => {
    const context = new KafkaRecordContext('market.trades', 0, {
      ...message('3'),
      headers: [
        [Buffer.from('trace'), Buffer.from('first')],
        [Buffer.from('trace'), Buffer.from('last')],
      ],
    }, 'cep-engine');
    expect(context.header('trace')).toBe('last');
    expect(context.headers).toEqual({ trace: 'last' });
  });

  it('reports the correlation ID the handler runs under when the record had none', () => {
    const context = new KafkaRecordContext('market.trades', 0, message('1'), 'cep-engine');
    context.useCorrelationId('generated');
    expect(context.correlationId).toBe('generated');
    expect(context.eventTime).toBeUndefined();
  });

  it('a batch context gives each value its record context, in offset order', () => {
    const batch = new KafkaBatchContext('market.trades', 2, [message('7'), message('8'), message('9')], 'archiver');
    expect(batch.size).toBe(3);
    expect(batch.firstOffset).toBe('7');
    expect(batch.lastOffset).toBe('9');
    expect(batch.record(1).offset).toBe('8');
    expect(batch.record(1)).toBe(batch.record(1));
    expect(() => batch.record(3)).toThrow(RangeError);
  });
});
