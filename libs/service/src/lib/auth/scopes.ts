/**
 * Scopes a credential may hold:
 *
 * - `admin`: the administrative actions of a service (rules, snapshots, jobs, compaction, retention,
 *   re-snapshots, DLQ replay and purge, topic apply);
 * - `read:<name>`: reading a stream, its history, or a resource of a service (e.g. `read:cdc.audit`);
 * - `produce:<name>`: writing events to a stream through the gateway.
 *
 * A name is dot-separated segments. In a held scope a segment `*` matches exactly one segment and a
 * final `>` matches one or more: `produce:market.*` grants `produce:market.trades` but not
 * `produce:market.trades.validated`; `read:>` grants reading everything.
 */
export type Scope = string;

export type ScopeAction = 'read' | 'produce';

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Why `scope` is not a scope a credential may hold, or undefined when it is one. */
export function scopeProblem(scope: string): string | undefined {
  if (scope === 'admin') return undefined;
  const colon = scope.indexOf(':');
  const action = colon < 0 ? scope : scope.slice(0, colon);
  if (action !== 'read' && action !== 'produce') return 'is not admin, read:<name> or produce:<name>';
  const segments = scope.slice(colon + 1).split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '>' && i === segments.length - 1) continue;
    if (segment === '>') return "uses '>' before the last segment";
    if (segment !== '*' && !SEGMENT.test(segment)) {
      return `has the segment ${JSON.stringify(segment)}: a segment is letters, digits, '_', '-', or a wildcard '*' (one segment) or final '>' (the rest)`;
    }
  }
  return undefined;
}

/** True when the held scope grants the wanted one, segment by segment. */
export function scopeGrants(held: Scope, wanted: Scope): boolean {
  if (held === wanted) return true;
  if (held === 'admin' || wanted === 'admin') return false;
  const heldColon = held.indexOf(':');
  const wantedColon = wanted.indexOf(':');
  if (heldColon < 0 || wantedColon < 0 || held.slice(0, heldColon) !== wanted.slice(0, wantedColon))
    return false;
  const pattern = held.slice(heldColon + 1).split('.');
  const name = wanted.slice(wantedColon + 1).split('.');
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i];
    if (segment === '>') return i === pattern.length - 1 && name.length > i;
    if (i >= name.length) return false;
    if (segment !== '*' && segment !== name[i]) return false;
  }
  return pattern.length === name.length;
}

/** True when any of `held` grants `wanted`. */
export function grants(held: readonly Scope[], wanted: Scope): boolean {
  for (const scope of held) if (scopeGrants(scope, wanted)) return true;
  return false;
}
