import { createHash, timingSafeEqual } from 'node:crypto';
import type { EnvVar } from '@tributary/config';

/** A scope an API key may hold: `produce:<stream>`, `read:<stream>` or `admin`; `*` in a stream matches any text. */
export type Scope = string;

export interface ApiKey {
  /** Who holds the key, for logs and metrics; the key itself is never logged. */
  readonly name: string;
  readonly scopes: readonly Scope[];
}

interface StoredKey extends ApiKey {
  /** SHA-256 of the key, so every comparison is over 32 bytes whatever the key's length. */
  readonly digest: Buffer;
}

/** The documented key of local runs (`GATEWAY_DEV_API_KEY_ENABLED=true`), allowed everything. */
export const DEVELOPMENT_API_KEY = 'tributary-dev-key';

const SCOPE = /^(admin|(produce|read):[A-Za-z0-9._*-]+)$/;
const NAME = /^[A-Za-z0-9._-]+$/;

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Parses `name:key:scope|scope,name:key:scope`. Keys may not contain `:` or `,`; errors name the
 * entry by position and holder, never by key.
 */
export function parseApiKeys(raw: string): { name: string; key: string; scopes: Scope[] }[] {
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
    const scopes = parts.slice(2).join(':').split('|').map((scope) => scope.trim());
    if (!NAME.test(name)) throw new Error(`${where}: the name may only hold letters, digits, '.', '_' and '-'`);
    if (names.has(name)) throw new Error(`${where}: the name is used twice`);
    names.add(name);
    if (key.length < 16) throw new Error(`${where}: the key must be at least 16 characters`);
    const bad = scopes.filter((scope) => !SCOPE.test(scope));
    if (bad.length > 0) {
      throw new Error(`${where}: unknown scope(s) ${bad.map((s) => JSON.stringify(s)).join(', ')} (admin, produce:<stream>, read:<stream>)`);
    }
    return { name, key, scopes };
  });
}

/** `GATEWAY_API_KEYS` as an environment variable: optional, secret, checked at start-up. */
export function apiKeysEnv(description: string): EnvVar<{ name: string; key: string; scopes: Scope[] }[]> {
  return {
    description,
    secret: true,
    required: false,
    parse: (raw) => (raw === undefined ? [] : parseApiKeys(raw)),
  };
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** True when `held` grants `wanted`: equal, or a `*` pattern of the same action; `admin` grants only admin. */
export function scopeGrants(held: Scope, wanted: Scope): boolean {
  if (held === wanted) return true;
  const heldAction = held.split(':', 1)[0];
  const wantedAction = wanted.split(':', 1)[0];
  if (heldAction !== wantedAction || !held.includes('*')) return false;
  return globToRegExp(held.slice(heldAction.length + 1)).test(wanted.slice(wantedAction.length + 1));
}

/** The keys the gateway accepts, looked up in time that does not depend on how much of a key matched. */
export class ApiKeyRegistry {
  private readonly keys: StoredKey[];

  constructor(keys: readonly { name: string; key: string; scopes: readonly Scope[] }[]) {
    this.keys = keys.map(({ name, key, scopes }) => ({ name, scopes: [...scopes], digest: digestOf(key) }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The holder of `presented`, or undefined. Compares against every key, so timing says nothing about which. */
  authenticate(presented: string): ApiKey | undefined {
    const digest = digestOf(presented);
    let found: StoredKey | undefined;
    for (const stored of this.keys) {
      if (timingSafeEqual(stored.digest, digest) && found === undefined) found = stored;
    }
    return found === undefined ? undefined : { name: found.name, scopes: found.scopes };
  }

  static allows(key: ApiKey, wanted: Scope): boolean {
    return key.scopes.some((held) => scopeGrants(held, wanted));
  }
}
