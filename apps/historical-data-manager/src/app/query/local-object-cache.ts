import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ObjectUnreadableError } from '../integrity/archive-file-state';

/**
 * Where the cache gets an object it does not hold: writes it to `destination` (and may check it
 * against `object.sha256`, throwing an {@link ObjectUnreadableError} when it differs).
 */
export type ObjectFetcher = (key: string, destination: string, object: WantedObject) => Promise<void>;

/** What the cache reports, for metrics. */
export interface ObjectCacheObserver {
  hit?(key: string): void;
  miss?(key: string): void;
  fetched?(key: string, bytes: number): void;
  evicted?(bytes: number): void;
  /** Bytes held on disk after any change. */
  size?(bytes: number): void;
}

export interface LocalObjectCacheOptions {
  /** Folder of the cached files (created when missing; files found there at start are reused). */
  dir: string;
  /** Bytes the cache keeps on disk; least recently used objects go first. */
  maxBytes: number;
  /** Objects fetched at once, over every request. */
  fetchConcurrency: number;
  fetch: ObjectFetcher;
  observer?: ObjectCacheObserver;
  /** Name of the setting of `maxBytes`, for refusals (e.g. `HISTORY_CACHE_MAX_BYTES`). */
  boundName?: string;
}

/**
 * A lease refused because the objects it asks for do not fit the cache's bound next to the objects
 * other readers hold: `busy` when they would fit once those are released, else never.
 */
export class CacheCapacityError extends Error {
  constructor(
    readonly wantedBytes: number,
    readonly heldBytes: number,
    readonly maxBytes: number,
    readonly boundName: string,
  ) {
    super(
      wantedBytes > maxBytes
        ? `the objects asked for hold ${wantedBytes} bytes; the local object cache holds at most ${maxBytes} (${boundName})`
        : `the objects asked for hold ${wantedBytes} bytes and other readers hold ${heldBytes} of the ${maxBytes} the local object cache may keep (${boundName}); ask again once they finish`,
    );
  }

  /** Whether the request could fit once other readers release their objects. */
  get busy(): boolean {
    return this.wantedBytes <= this.maxBytes;
  }
}

/** An object wanted by a reader; `bytes`, when known (the catalog's size), is checked after a fetch. */
export interface WantedObject {
  key: string;
  bytes?: number;
  /** SHA-256 (base64) the catalog recorded for the object, for the fetcher to check. */
  sha256?: string | null;
}

/** Local files of the objects asked for, kept on disk until {@link release}. */
export interface CacheLease {
  /** Local path of each object, in the order asked. */
  readonly paths: string[];
  release(): void;
}

interface Entry {
  id: string;
  path: string;
  bytes: number;
  pins: number;
}

/** At most `limit` tasks at once; the others wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('a semaphore needs a limit of at least 1');
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Objects of the archive as local files, for DuckDB to read: a least-recently-used cache on disk,
 * bounded in bytes. Objects missing locally are fetched in parallel (at most `fetchConcurrency` at
 * once over all readers) and once each: readers asking for an object being fetched wait for that
 * fetch. Objects a reader holds (between {@link acquire} and `release`) are never evicted.
 *
 * The bound is hard: the bytes held by readers plus the bytes of the fetches under way (their
 * catalog size, reserved before the fetch starts) never exceed `maxBytes`. A lease that would take
 * them beyond is refused up front with a {@link CacheCapacityError}, before anything is fetched;
 * room for a fetch is made by evicting unheld objects before it starts, so the files on disk stay
 * within the bound too.
 *
 * Archive objects are immutable once committed (a key is rewritten only by a retry of the same
 * offsets, before its commit), so a cached file never goes stale.
 */
export class LocalObjectCache {
  /** Least recently used first (Map keeps insertion order; a hit re-inserts). */
  private readonly entries = new Map<string, Entry>();
  /** Fetches under way, with the number of readers waiting for each (each gets a pin when it lands). */
  private readonly inFlight = new Map<string, { entry: Promise<Entry>; waiters: number; reserved: number }>();
  private readonly fetches: Semaphore;
  private bytes = 0;
  /** Catalog bytes of the fetches under way (not on disk yet, already counted against the bound). */
  private reservedBytes = 0;

  private constructor(private readonly options: LocalObjectCacheOptions) {
    if (!(options.maxBytes >= 1)) throw new RangeError('the cache needs a maxBytes of at least 1');
    this.fetches = new Semaphore(options.fetchConcurrency);
  }

  /** Opens the cache folder; files left there by an earlier run are kept (oldest first in line for eviction). */
  static async open(options: LocalObjectCacheOptions): Promise<LocalObjectCache> {
    const cache = new LocalObjectCache(options);
    await mkdir(options.dir, { recursive: true });
    const found: { id: string; path: string; bytes: number; mtimeMs: number }[] = [];
    for (const name of await readdir(options.dir)) {
      const path = join(options.dir, name);
      if (name.endsWith('.part')) {
        await rm(path, { force: true }); // a fetch cut short by a crash
        continue;
      }
      const match = /^([0-9a-f]{64})\.obj$/.exec(name);
      if (!match) continue;
      const info = await stat(path);
      found.push({ id: match[1] as string, path, bytes: info.size, mtimeMs: info.mtimeMs });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      cache.entries.set(f.id, { id: f.id, path: f.path, bytes: f.bytes, pins: 0 });
      cache.bytes += f.bytes;
    }
    cache.evict();
    return cache;
  }

  /** Bytes of the cached files on disk. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** Objects held on disk. */
  get objectCount(): number {
    return this.entries.size;
  }

  /** Whether `key` is on disk now. */
  has(key: string): boolean {
    return this.entries.has(idOf(key));
  }

  /** Bytes readers hold now, with the fetches under way: what the bound leaves no room to evict. */
  get heldBytes(): number {
    let held = this.reservedBytes;
    for (const entry of this.entries.values()) if (entry.pins > 0) held += entry.bytes;
    return held;
  }

  /**
   * Local files of `objects`, fetched when missing; they stay on disk until the lease is released.
   * Refused with a {@link CacheCapacityError}, before anything is fetched, when they do not fit the
   * bound next to what other readers hold.
   */
  async acquire(objects: readonly WantedObject[]): Promise<CacheLease> {
    this.refuseBeyondBound(objects);
    const pinned: Entry[] = [];
    const results = await Promise.allSettled(
      objects.map(async (object) => {
        const entry = await this.entryOf(object);
        pinned.push(entry);
        return entry;
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.unpin(pinned);
      throw failed.reason;
    }
    const entries = (results as PromiseFulfilledResult<Entry>[]).map((r) => r.value);
    let released = false;
    return {
      paths: entries.map((e) => e.path),
      release: () => {
        if (released) return;
        released = true;
        this.unpin(pinned);
      },
    };
  }

  /** Synchronous with the pins {@link acquire} takes next, so two readers never both count the same room. */
  private refuseBeyondBound(objects: readonly WantedObject[]): void {
    const ids = new Map<string, WantedObject>();
    for (const object of objects) ids.set(idOf(object.key), object);
    let wanted = 0;
    let adding = 0;
    for (const [id, object] of ids) {
      const entry = this.entries.get(id);
      const bytes = entry?.bytes ?? object.bytes ?? 0;
      wanted += bytes;
      if ((entry !== undefined && entry.pins > 0) || this.inFlight.has(id)) continue; // counted already
      adding += bytes;
    }
    const held = this.heldBytes;
    if (wanted > this.options.maxBytes || held + adding > this.options.maxBytes) {
      throw new CacheCapacityError(wanted, held, this.options.maxBytes, this.options.boundName ?? 'maxBytes');
    }
  }

  private unpin(entries: Entry[]): void {
    for (const entry of entries) entry.pins--;
    this.evict();
  }

  /** The entry of `object`, pinned for the caller (so no eviction can remove it before the caller reads it). */
  private async entryOf(object: WantedObject): Promise<Entry> {
    const id = idOf(object.key);
    const cached = this.entries.get(id);
    if (cached) {
      cached.pins++;
      this.entries.delete(id);
      this.entries.set(id, cached);
      this.options.observer?.hit?.(object.key);
      return cached;
    }
    this.options.observer?.miss?.(object.key);
    let fetching = this.inFlight.get(id);
    if (!fetching) {
      const reserved = object.bytes ?? 0;
      this.reservedBytes += reserved;
      this.evict(); // room for it on disk before it lands
      const started = { entry: this.fetches.run(() => this.fetch(id, object)), waiters: 0, reserved };
      this.inFlight.set(id, started);
      started.entry.catch(() => {
        if (this.inFlight.get(id) === started) {
          this.inFlight.delete(id);
          this.reservedBytes -= reserved;
          this.evict();
        }
      });
      fetching = started;
    }
    fetching.waiters++;
    return fetching.entry;
  }

  private async fetch(id: string, object: WantedObject): Promise<Entry> {
    const path = join(this.options.dir, `${id}.obj`);
    const part = join(this.options.dir, `${id}.${randomBytes(4).toString('hex')}.part`);
    try {
      await this.options.fetch(object.key, part, object);
      const { size } = await stat(part);
      if (object.bytes !== undefined && size !== object.bytes) {
        throw new ObjectUnreadableError(object.key, 'corrupt', `the object has ${size} bytes; the catalog committed ${object.bytes}`);
      }
      await rename(part, path);
      // pinned for every reader waiting for this fetch, before any eviction can see it
      const fetching = this.inFlight.get(id);
      const entry: Entry = { id, path, bytes: size, pins: fetching?.waiters ?? 0 };
      this.inFlight.delete(id);
      this.reservedBytes -= fetching?.reserved ?? 0;
      this.entries.set(id, entry);
      this.bytes += size;
      this.options.observer?.fetched?.(object.key, size);
      this.evict();
      return entry;
    } catch (error) {
      await rm(part, { force: true });
      throw error;
    }
  }

  /**
   * Removes least recently used, unheld files until the cache, with the fetches under way, fits its
   * bound. Synchronous, so a fetch of the same object that completes meanwhile can never have its
   * new file removed.
   */
  private evict(): void {
    for (const entry of [...this.entries.values()]) {
      if (this.bytes + this.reservedBytes <= this.options.maxBytes) break;
      if (entry.pins > 0) continue;
      this.entries.delete(entry.id);
      this.bytes -= entry.bytes;
      rmSync(entry.path, { force: true });
      this.options.observer?.evicted?.(entry.bytes);
    }
    this.options.observer?.size?.(this.bytes);
  }
}

function idOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
