import pino from 'pino';
import { CATALOG, sampleEvent } from '@tributary/contracts';
import type { DeadLetterFailure } from '../record-headers';
import { BatchInterruptedError, DeadLetterUnavailableError } from './consumer-errors';
import type { FetchedRecord } from './partition-fetcher';
import { type PipelineProgress, type PipelineRoute, RecordPipeline } from './record-pipeline';

const TOPIC = 'pipeline-test';
const spec = { ...CATALOG['market.trades'], topic: TOPIC };

function record(offset: number, value: string | null): FetchedRecord {
  return { offset: BigInt(offset), timestamp: 0n, key: null, value: value === null ? null : Buffer.from(value), headers: [] };
}

const trade = (tradeId: string) => JSON.stringify(sampleEvent('market.trades', { tradeId }));

describe('RecordPipeline', () => {
  let dead: { topic: string; offset: bigint; failure: DeadLetterFailure }[];
  let deadLetterDown: boolean;
  let pipeline: RecordPipeline;

  beforeEach(() => {
    dead = [];
    deadLetterDown = false;
    pipeline = new RecordPipeline({
      groupId: 'group',
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, jitter: 0 },
      deadLetters: async (topic, fetched, failure) => {
        if (deadLetterDown) throw new Error('the DLQ topic is unreachable');
        dead.push({ topic, offset: fetched.offset, failure });
      },
      logger: pino({ level: 'silent' }),
    });
  });

  function route(handler: PipelineRoute['handler'], batchMode = false): PipelineRoute {
    return { topic: TOPIC, handler, batchMode, deferCommit: false, spec, validate: true, deadLetter: true, deadLetterTopic: `${TOPIC}.dlq` };
  }

  const run = (r: PipelineRoute, records: FetchedRecord[], progress: PipelineProgress = { settled: 0, durables: [] }, signal = new AbortController().signal) =>
    pipeline.run(r, { topic: TOPIC, partition: 0, records, highWatermark: BigInt(records.length) }, progress, signal).then(() => progress);

  it('a record that is not JSON or breaks its contract goes to the DLQ at once; the others reach the handler', async () => {
    const handled: string[] = [];
    const progress = await run(
      route(async (value) => void handled.push((value as { tradeId: string }).tradeId)),
      [record(0, '{"broken'), record(1, JSON.stringify({ symbol: 'AAPL' })), record(2, trade('ok'))],
    );
    expect(handled).toEqual(['ok']);
    expect(dead.map(({ offset, failure }) => [offset, failure.errorType, failure.attempts])).toEqual([
      [0n, 'DeserializationError', 0],
      [1n, 'ValidationError', 0],
    ]);
    expect(dead[0].topic).toBe(`${TOPIC}.dlq`);
    expect(progress.settled).toBe(3);
  });

  it('a handler that keeps failing is tried the policy\'s attempts, then its record is dead-lettered and the next one handled', async () => {
    const attempts: string[] = [];
    await run(
      route(async (value) => {
        const id = (value as { tradeId: string }).tradeId;
        attempts.push(id);
        if (id === 'bad') throw new TypeError('cannot book it');
      }),
      [record(0, trade('bad')), record(1, trade('good'))],
    );
    expect(attempts).toEqual(['bad', 'bad', 'bad', 'good']);
    expect(dead.map(({ failure }) => [failure.errorType, failure.reason, failure.attempts])).toEqual([['TypeError', 'cannot book it', 3]]);
  });

  it('a batch with a poison record is split down to it: every other record is handled once, the poison dead-lettered', async () => {
    const handled: string[] = [];
    const ids = Array.from({ length: 8 }, (_, i) => (i === 5 ? 'poison' : `t${i}`));
    const progress = await run(
      route(async (values) => {
        const batch = (values as { tradeId: string }[]).map((value) => value.tradeId);
        if (batch.includes('poison')) throw new Error('poison in the batch');
        handled.push(...batch);
      }, true),
      ids.map((id, offset) => record(offset, trade(id))),
    );
    expect(handled.sort()).toEqual(ids.filter((id) => id !== 'poison').sort());
    expect(new Set(handled).size).toBe(handled.length);
    expect(dead.map(({ offset }) => offset)).toEqual([5n]);
    expect(progress.settled).toBe(8);
  });

  it('when the DLQ cannot be written the batch stops at that record; run again, the record goes straight to the DLQ', async () => {
    let calls = 0;
    const failing = route(async (value) => {
      calls++;
      if ((value as { tradeId: string }).tradeId === 'bad') throw new Error('no');
    });
    const records = [record(0, trade('a')), record(1, trade('bad')), record(2, trade('c'))];
    deadLetterDown = true;
    const progress: PipelineProgress = { settled: 0, durables: [] };
    await expect(run(failing, records, progress)).rejects.toBeInstanceOf(DeadLetterUnavailableError);
    expect(progress.settled).toBe(1);
    expect(calls).toBe(4);

    deadLetterDown = false;
    calls = 0;
    await run(failing, records.slice(1));
    expect(dead.map(({ offset, failure }) => [offset, failure.attempts])).toEqual([[1n, 3]]);
    expect(calls).toBe(1); // only 'c': the exhausted record was not tried again
  });

  it('an aborted signal cuts a retry wait short and says how far the batch got', async () => {
    const slow = new RecordPipeline({
      groupId: 'group',
      retry: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 },
      deadLetters: async () => undefined,
      logger: pino({ level: 'silent' }),
    });
    const controller = new AbortController();
    const progress: PipelineProgress = { settled: 0, durables: [] };
    const running = slow.run(
      route(async (value) => {
        if ((value as { tradeId: string }).tradeId === 'flaky') throw new Error('store down');
      }),
      { topic: TOPIC, partition: 0, records: [record(0, trade('a')), record(1, trade('flaky'))], highWatermark: 2n },
      progress,
      controller.signal,
    );
    setImmediate(() => controller.abort());
    await expect(running).rejects.toBeInstanceOf(BatchInterruptedError);
    expect(progress.settled).toBe(1);
  });
});
