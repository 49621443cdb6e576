import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheCapacityError, LocalObjectCache, type ObjectFetcher, Semaphore } from './local-object-cache';

/** Objects of known sizes, fetched after the test lets them go (so overlaps can be arranged). */
function objectStore(sizes: Record<string, number>) {
  const fetched: string[] = [];
  let active = 0;
  let maxActive = 0;
  const gates: (() => void)[] = [];
  const fetch: ObjectFetcher = async (key, destination) => {
    fetched.push(key);
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
    const size = sizes[key];
    if (size === undefined) throw new Error(`no object ${key}`);
    await writeFile(destination, Buffer.alloc(size, key));
  };
  /** Lets every fetch through until `until` settles (or, without it, until none is waiting). */
  const releaseAll = async (until?: Promise<unknown>) => {
    let settled = until === undefined;
    until?.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled || gates.length > 0 || active > 0) {
      gates.splice(0).forEach((open) => open());
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  return { fetch, fetched, releaseAll, maxActive: () => maxActive };
}

async function acquireAll(cache: LocalObjectCache, store: ReturnType<typeof objectStore>, keys: string[]) {
  const lease = cache.acquire(keys.map((key) => ({ key })));
  await store.releaseAll(lease);
  return lease;
}

describe('local object cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hdm-cache-spec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('an object is fetched once and read from disk afterwards; hits and misses are reported', async () => {
    const store = objectStore({ a: 10 });
    const seen = { hits: 0, misses: 0, fetchedBytes: 0 };
    const cache = await LocalObjectCache.open({
      dir,
      maxBytes: 100,
      fetchConcurrency: 2,
      fetch: store.fetch,
      observer: { hit: () => seen.hits++, miss: () => seen.misses++, fetched: (_k, b) => (seen.fetchedBytes += b) },
    });
    const first = await acquireAll(cache, store, ['a']);
    first.release();
    const second = await acquireAll(cache, store, ['a']);
    expect(readFileSync(second.paths[0] as string, 'utf8')).toBe('a'.repeat(10));
    second.release();
    expect(store.fetched).toEqual(['a']);
    expect(seen).toEqual({ hits: 1, misses: 1, fetchedBytes: 10 });
  });

  it('readers asking for the same object at once share one fetch', async () => {
    const store = objectStore({ a: 10 });
    const cache = await LocalObjectCache.open({ dir, maxBytes: 100, fetchConcurrency: 4, fetch: store.fetch });
    const leases = Promise.all([1, 2, 3].map(() => cache.acquire([{ key: 'a' }])));
    await store.releaseAll(leases);
    const got = await leases;
    expect(store.fetched).toEqual(['a']);
    expect(new Set(got.map((l) => l.paths[0])).size).toBe(1);
  });

  it('fetches run in parallel up to the configured concurrency, not beyond', async () => {
    const sizes = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, 5]));
    const store = objectStore(sizes);
    const cache = await LocalObjectCache.open({ dir, maxBytes: 1000, fetchConcurrency: 3, fetch: store.fetch });
    const lease = cache.acquire(Object.keys(sizes).map((key) => ({ key })));
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.fetched).toHaveLength(3);
    await store.releaseAll(lease);
    expect((await lease).paths).toHaveLength(6);
    expect(store.maxActive()).toBe(3);
  });

  it('the least recently used objects are evicted to stay within the byte bound', async () => {
    const store = objectStore({ a: 40, b: 40, c: 40 });
    const evicted: number[] = [];
    const cache = await LocalObjectCache.open({
      dir,
      maxBytes: 100,
      fetchConcurrency: 1,
      fetch: store.fetch,
      observer: { evicted: (bytes) => evicted.push(bytes) },
    });
    (await acquireAll(cache, store, ['a'])).release();
    (await acquireAll(cache, store, ['b'])).release();
    (await acquireAll(cache, store, ['a'])).release(); // a is now more recent than b
    (await acquireAll(cache, store, ['c'])).release();
    expect(cache.has('a')).toBe(true);
    expect(cache.has('b')).toBe(false);
    expect(cache.has('c')).toBe(true);
    expect(cache.usedBytes).toBe(80);
    expect(evicted).toEqual([40]);
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('objects a reader holds are not evicted; what they leave free is evicted down to the bound on release', async () => {
    const store = objectStore({ a: 60, b: 30, c: 50 });
    const cache = await LocalObjectCache.open({ dir, maxBytes: 100, fetchConcurrency: 2, fetch: store.fetch });
    const sized = (keys: string[]) => keys.map((key) => ({ key, bytes: { a: 60, b: 30, c: 50 }[key] as number }));
    const held = cache.acquire(sized(['a', 'b']));
    await store.releaseAll(held);
    const lease = await held;
    expect(cache.usedBytes).toBe(90);
    expect(lease.paths.map((p) => readFileSync(p).length)).toEqual([60, 30]);
    lease.release();
    const next = cache.acquire(sized(['c']));
    await store.releaseAll(next);
    (await next).release();
    expect(cache.usedBytes).toBeLessThanOrEqual(100);
  });

  it('a lease larger than the bound is refused before anything is fetched, naming the bound', async () => {
    const store = objectStore({ a: 60, b: 60 });
    const cache = await LocalObjectCache.open({
      dir,
      maxBytes: 100,
      fetchConcurrency: 2,
      fetch: store.fetch,
      boundName: 'HISTORY_CACHE_MAX_BYTES',
    });
    const refusal = await cache
      .acquire([
        { key: 'a', bytes: 60 },
        { key: 'b', bytes: 60 },
      ])
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CacheCapacityError);
    expect((refusal as CacheCapacityError).busy).toBe(false);
    expect((refusal as Error).message).toMatch(/120 bytes.*at most 100 \(HISTORY_CACHE_MAX_BYTES\)/);
    expect(store.fetched).toEqual([]);
    expect(cache.usedBytes).toBe(0);
  });

  it('what other readers hold counts against the bound: a lease that would exceed it is refused as busy until they release', async () => {
    const store = objectStore({ a: 60, b: 60 });
    const cache = await LocalObjectCache.open({ dir, maxBytes: 100, fetchConcurrency: 2, fetch: store.fetch });
    const first = cache.acquire([{ key: 'a', bytes: 60 }]);
    // refused while the first fetch is still under way: its bytes are reserved before they land
    const whileFetching = await cache.acquire([{ key: 'b', bytes: 60 }]).catch((error: unknown) => error);
    expect(whileFetching).toBeInstanceOf(CacheCapacityError);
    expect((whileFetching as CacheCapacityError).busy).toBe(true);
    await store.releaseAll(first);
    const lease = await first;
    // the same object again fits: it is held already and counted once
    const again = await cache.acquire([{ key: 'a', bytes: 60 }]);
    expect(cache.heldBytes).toBe(60);
    again.release();
    lease.release();
    expect(cache.heldBytes).toBe(0);
    const second = cache.acquire([{ key: 'b', bytes: 60 }]);
    await store.releaseAll(second);
    (await second).release();
    expect(cache.usedBytes).toBe(60); // a was evicted to make room before b was fetched
    expect(store.fetched).toEqual(['a', 'b']);
  });

  it('a fetch whose size differs from the catalog fails, keeps nothing, and the next reader fetches again', async () => {
    const store = objectStore({ a: 10 });
    const cache = await LocalObjectCache.open({ dir, maxBytes: 100, fetchConcurrency: 1, fetch: store.fetch });
    const wrong = cache.acquire([{ key: 'a', bytes: 11 }]);
    await store.releaseAll(wrong);
    await expect(wrong).rejects.toThrow('archive object a is corrupt: the object has 10 bytes; the catalog committed 11');
    expect(readdirSync(dir)).toEqual([]);
    const right = cache.acquire([{ key: 'a', bytes: 10 }]);
    await store.releaseAll(right);
    expect((await right).paths).toHaveLength(1);
    expect(store.fetched).toEqual(['a', 'a']);
  });

  it('a failed fetch releases the other objects of the same request', async () => {
    const store = objectStore({ a: 60 });
    const cache = await LocalObjectCache.open({ dir, maxBytes: 50, fetchConcurrency: 2, fetch: store.fetch });
    const failing = cache.acquire([{ key: 'a' }, { key: 'missing' }]);
    await store.releaseAll(failing);
    await expect(failing).rejects.toThrow('no object missing');
    expect(cache.usedBytes).toBe(0); // a was released and, above the bound, evicted
  });

  it('files left by an earlier run are reused, and partial downloads removed', async () => {
    const store = objectStore({ a: 10 });
    const first = await LocalObjectCache.open({ dir, maxBytes: 100, fetchConcurrency: 1, fetch: store.fetch });
    (await acquireAll(first, store, ['a'])).release();
    writeFileSync(join(dir, 'abc.1234.part'), 'cut short');
    const again = await LocalObjectCache.open({ dir, maxBytes: 100, fetchConcurrency: 1, fetch: store.fetch });
    expect(again.has('a')).toBe(true);
    expect(again.usedBytes).toBe(10);
    expect(readdirSync(dir).some((name) => name.endsWith('.part'))).toBe(false);
  });
});

describe('semaphore', () => {
  it('runs at most its limit of tasks at once, the rest in order', async () => {
    const semaphore = new Semaphore(2);
    const order: number[] = [];
    let running = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        semaphore.run(async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          order.push(n);
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });
});
