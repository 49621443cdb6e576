import {
  BudgetExceeded,
  checkByteBudget,
  filesStartingBy,
  firstFilesFor,
  QueryConcurrency,
} from './query-budgets';

const file = (minEventTimeNs: bigint, rows = 100, bytes = 1000) => ({ minEventTimeNs, rows, bytes });

describe('byte budget of one query', () => {
  it('a query whose files hold more bytes than the budget is refused naming the budget, the bytes and how to narrow it', () => {
    const files = [file(1n), file(2n), file(3n)];
    const refusal = (() => {
      try {
        checkByteBudget(files, 2500, 'HISTORY_QUERY_MAX_BYTES');
        return null;
      } catch (error) {
        return error as BudgetExceeded;
      }
    })();
    expect(refusal).toBeInstanceOf(BudgetExceeded);
    expect(refusal?.budget).toBe('HISTORY_QUERY_MAX_BYTES');
    expect(refusal?.limit).toBe(2500);
    expect(refusal?.retryAfterSeconds).toBeNull(); // asking again unchanged cannot succeed
    expect(refusal?.message).toMatch(
      /would read 3000 bytes .*3 files.*at most 2500 bytes \(HISTORY_QUERY_MAX_BYTES\).*shorter from\/to range or symbols/,
    );
  });

  it('a query within the budget passes', () => {
    expect(() => checkByteBudget([file(1n), file(2n)], 2000, 'HISTORY_QUERY_MAX_BYTES')).not.toThrow();
    expect(() => checkByteBudget([], 1, 'HISTORY_QUERY_MAX_BYTES')).not.toThrow();
  });
});

describe('limit reads the files in event-time order and stops early', () => {
  const ordered = [file(10n), file(20n), file(20n), file(30n), file(40n), file(50n)];

  it('takes enough files for the limit by their row counts, plus the files starting at the same time as the last one', () => {
    expect(firstFilesFor(ordered, 1)).toEqual(ordered.slice(0, 1));
    expect(firstFilesFor(ordered, 150)).toEqual(ordered.slice(0, 3)); // the second file ties with the third
    expect(firstFilesFor(ordered, 10_000)).toEqual(ordered);
  });

  it('once the time of the limit-th row is known, only files starting by then can hold one of the first rows', () => {
    expect(filesStartingBy(ordered, 25n)).toEqual(ordered.slice(0, 3));
    expect(filesStartingBy(ordered, 30n)).toEqual(ordered.slice(0, 4)); // a file starting at that very time may hold an earlier-ordered tie
  });
});

describe('queries running at once', () => {
  const limits = {
    maxConcurrent: 3,
    maxConcurrentPerCaller: 2,
    names: { service: 'HISTORY_QUERY_MAX_CONCURRENT', perCaller: 'HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER' },
  };
  const refusalOf = (work: () => unknown): BudgetExceeded | null => {
    try {
      work();
      return null;
    } catch (error) {
      return error as BudgetExceeded;
    }
  };

  it('one caller runs at most its share; another caller still gets a slot', () => {
    const concurrency = new QueryConcurrency(limits);
    const a1 = concurrency.enter('alice');
    concurrency.enter('alice');
    const refused = refusalOf(() => concurrency.enter('alice'));
    expect(refused).toMatchObject({
      budget: 'HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER',
      limit: 2,
      retryAfterSeconds: 1,
    });
    expect(refused?.message).toMatch(/alice has 2 queries running; one caller runs at most 2/);
    expect(() => concurrency.enter('bob')).not.toThrow();
    a1();
    expect(() => concurrency.enter('alice')).not.toThrow();
  });

  it('the service runs at most its budget over every caller, and frees a slot when a query leaves (once, however often it is told)', () => {
    const concurrency = new QueryConcurrency(limits);
    const leave = concurrency.enter('alice');
    concurrency.enter('bob');
    concurrency.enter(null);
    expect(refusalOf(() => concurrency.enter('carol'))).toMatchObject({
      budget: 'HISTORY_QUERY_MAX_CONCURRENT',
      limit: 3,
      retryAfterSeconds: 1,
    });
    leave();
    leave();
    expect(concurrency.active).toBe(2);
    expect(() => concurrency.enter('carol')).not.toThrow();
    expect(refusalOf(() => concurrency.enter('dave'))).toMatchObject({
      budget: 'HISTORY_QUERY_MAX_CONCURRENT',
    });
  });
});
