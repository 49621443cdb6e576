import { setImmediate as nextTick } from 'node:timers/promises';
import { currentCorrelationId, newCorrelationId, runWithCorrelationId } from './correlation-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('correlation IDs', () => {
  it('the correlation id of a unit of work is visible after awaits, timers and callbacks', async () => {
    const seen = await runWithCorrelationId('order-42', async () => {
      const ids: Array<string | undefined> = [currentCorrelationId()];
      await nextTick();
      ids.push(currentCorrelationId());
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          ids.push(currentCorrelationId());
          resolve();
        }, 1),
      );
      ids.push(await Promise.resolve().then(() => currentCorrelationId()));
      return ids;
    });
    expect(seen).toEqual(['order-42', 'order-42', 'order-42', 'order-42']);
  });

  it('concurrent units of work each keep their own correlation id', async () => {
    const work = (id: string, delays: number[]) =>
      runWithCorrelationId(id, async () => {
        const ids: Array<string | undefined> = [];
        for (const delay of delays) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          ids.push(currentCorrelationId());
        }
        return ids;
      });
    const [a, b] = await Promise.all([work('a', [3, 1, 2]), work('b', [1, 3, 1])]);
    expect(a).toEqual(['a', 'a', 'a']);
    expect(b).toEqual(['b', 'b', 'b']);
  });

  it('a unit of work started without an id gets a fresh UUID', () => {
    const first = runWithCorrelationId(undefined, currentCorrelationId);
    const second = runWithCorrelationId(undefined, currentCorrelationId);
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
    expect(newCorrelationId()).toMatch(UUID);
  });

  it('a nested unit of work has its own id and the outer one is restored after it', () => {
    runWithCorrelationId('outer', () => {
      expect(runWithCorrelationId('inner', currentCorrelationId)).toBe('inner');
      expect(currentCorrelationId()).toBe('outer');
    });
  });

  it('outside any unit of work there is no correlation id', () => {
    expect(currentCorrelationId()).toBeUndefined();
  });

  it('runWithCorrelationId returns what the work returns and passes its errors through', async () => {
    expect(runWithCorrelationId('x', () => 7)).toBe(7);
    await expect(runWithCorrelationId('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
  });
});
