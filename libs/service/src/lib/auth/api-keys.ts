import { createHash, timingSafeEqual } from 'node:crypto';
import { type Scope, scopeProblem } from './scopes';

/** The development key of local runs (`AUTH_DEV_KEY_ENABLED=true`, set by `npm start`), allowed everything. */
export const DEVELOPMENT_API_KEY = 'tributary-dev-key';
export const DEVELOPMENT_SCOPES: readonly Scope[] = ['admin', 'produce:>', 'read:>'];

export interface ApiKeyEntry {
  readonly name: string;
  readonly key: string;
  readonly scopes: readonly Scope[];
}

interface StoredKey {
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** SHA-256 of the key, so every comparison is over 32 bytes whatever the key's length. */
  readonly digest: Buffer;
}

const NAME = /^[A-Za-z0-9._-]+$/;
const MIN_KEY_LENGTH = 16;

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Parses `name:key:scope|scope,name:key:scope`. Keys may not contain `:` or `,`; errors name the
 * entry by position and holder, never by key.
 */
export function parseApiKeys(raw: string): ApiKeyEntry[] {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const names = new Set<string>();
  return entries.map((entry, index) => {
    const parts = entry.split(':');
    const name = parts[0] ?? '';
    const where = NAME.test(name) ? `entry ${index + 1} (${name})` : `entry ${index + 1}`;
    if (parts.length < 3) throw new Error(`${where} must be name:key:scope|scope`);
    const key = parts[1];
    const scopes = parts
      .slice(2)
      .join(':')
      .split('|')
      .map((scope) => scope.trim());
    if (!NAME.test(name))
      throw new Error(`${where}: the name may only hold letters, digits, '.', '_' and '-'`);
    if (names.has(name)) throw new Error(`${where}: the name is used twice`);
    names.add(name);
    if (key.length < MIN_KEY_LENGTH)
      throw new Error(`${where}: the key must be at least ${MIN_KEY_LENGTH} characters`);
    if (key === DEVELOPMENT_API_KEY)
      throw new Error(`${where}: the development key is public; choose a secret key`);
    const bad = scopes.flatMap((scope) => {
      const problem = scopeProblem(scope);
      return problem === undefined ? [] : [`${JSON.stringify(scope)} ${problem}`];
    });
    if (bad.length > 0) throw new Error(`${where}: scope ${bad.join('; scope ')}`);
    return { name, key, scopes };
  });
}

/** The API keys a service accepts, looked up in time that does not depend on how much of a key matched. */
export class ApiKeyRegistry {
  private readonly keys: StoredKey[];

  constructor(keys: readonly ApiKeyEntry[]) {
    this.keys = keys.map(({ name, key, scopes }) => ({ name, scopes: [...scopes], digest: digestOf(key) }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The holder of `presented`, or undefined. Compares against every key, so timing says nothing about which. */
  authenticate(presented: string): { name: string; scopes: readonly Scope[] } | undefined {
    const digest = digestOf(presented);
    let found: StoredKey | undefined;
    for (const stored of this.keys) {
      if (timingSafeEqual(stored.digest, digest) && found === undefined) found = stored;
    }
    return found === undefined ? undefined : { name: found.name, scopes: found.scopes };
  }
}
