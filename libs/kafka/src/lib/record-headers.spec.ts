import { DLQ_HEADERS, HEADERS } from '@tributary/contracts';
import {
  deadLetterHeaders,
  decodeHeaders,
  describeHandlerFailure,
  headerValue,
  MAX_REASON_LENGTH,
  type DeadLetterFailure,
} from './record-headers';

const failure: DeadLetterFailure = {
  reason: 'price must be positive',
  errorType: 'ValidationError',
  topic: 'market.trades',
  partition: 7,
  offset: '9007199254740993',
  attempts: 5,
  consumerGroup: 'cep-engine',
  failedAt: new Date('2026-01-02T03:04:05.678Z'),
};

describe('record headers', () => {
  it('decodes header buffers as UTF-8 text', () => {
    const headers = { [HEADERS.schemaVersion]: Buffer.from('2'), [HEADERS.producer]: Buffer.from('gateway/ü-1') };
    expect(decodeHeaders(headers)).toEqual({ [HEADERS.schemaVersion]: '2', [HEADERS.producer]: 'gateway/ü-1' });
    expect(headerValue(headers, HEADERS.producer)).toBe('gateway/ü-1');
    expect(headerValue(headers, HEADERS.correlationId)).toBeUndefined();
    expect(decodeHeaders(undefined)).toEqual({});
  });

  it('takes the last value of a repeated header, as the Java client does', () => {
    const headers = { trace: [Buffer.from('first'), Buffer.from('last')] };
    expect(headerValue(headers, 'trace')).toBe('last');
    expect(decodeHeaders(headers)).toEqual({ trace: 'last' });
  });

  it('a dead-lettered record keeps every original header and gains the dlq.* headers', () => {
    const original = { [HEADERS.correlationId]: Buffer.from('c-1'), custom: Buffer.from('kept') };
    const headers = deadLetterHeaders(original, failure);
    expect(headers[HEADERS.correlationId]).toBe(original[HEADERS.correlationId]);
    expect(headers['custom']).toBe(original.custom);
    expect(decodeHeaders(headers)).toMatchObject({
      [DLQ_HEADERS.reason]: 'price must be positive',
      [DLQ_HEADERS.errorType]: 'ValidationError',
      [DLQ_HEADERS.originalTopic]: 'market.trades',
      [DLQ_HEADERS.originalPartition]: '7',
      [DLQ_HEADERS.originalOffset]: '9007199254740993',
      [DLQ_HEADERS.attempts]: '5',
      [DLQ_HEADERS.consumerGroup]: 'cep-engine',
      [DLQ_HEADERS.failedAt]: '2026-01-02T03:04:05.678Z',
    });
  });

  it('a record dead-lettered twice carries the latest failure, not the first', () => {
    const first = deadLetterHeaders(undefined, failure);
    const second = deadLetterHeaders(first, { ...failure, reason: 'replay failed', attempts: 1 });
    expect(headerValue(second, DLQ_HEADERS.reason)).toBe('replay failed');
    expect(headerValue(second, DLQ_HEADERS.attempts)).toBe('1');
  });

  it('cuts an overlong reason instead of producing an oversized header', () => {
    const headers = deadLetterHeaders(undefined, { ...failure, reason: 'x'.repeat(100_000) });
    const reason = headerValue(headers, DLQ_HEADERS.reason) ?? '';
    expect(reason.length).toBe(MAX_REASON_LENGTH);
    expect(reason.endsWith('…')).toBe(true);
  });

  it('describes thrown errors, error-like objects and anything else', () => {
    class DownstreamTimeout extends Error {
      override name = 'DownstreamTimeout';
    }
    expect(describeHandlerFailure(new DownstreamTimeout('postgres did not answer'))).toEqual({
      errorType: 'DownstreamTimeout',
      reason: 'postgres did not answer',
    });
    expect(describeHandlerFailure({ status: 'error', message: 'Internal server error' })).toEqual({
      errorType: 'HandlerError',
      reason: 'Internal server error',
    });
    expect(describeHandlerFailure('boom')).toEqual({ errorType: 'HandlerError', reason: 'boom' });
  });
});
