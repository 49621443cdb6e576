/**
 * The API key the integration tests present. Services started by {@link startService} accept it
 * (with every scope) unless a test sets `AUTH_API_KEYS` itself; in-process test apps put
 * {@link TEST_AUTH_API_KEYS} into their configuration.
 */
export const TEST_API_KEY = 'tributary-integration-test-key';

/** `AUTH_API_KEYS` holding the test key with every scope. */
export const TEST_AUTH_API_KEYS = `integration-test:${TEST_API_KEY}:admin|read:>|produce:>`;

/** Request headers carrying the test key, plus `extra`. */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${TEST_API_KEY}`, ...extra };
}

/** `fetch` with the test key added to the request's headers. */
export function authorizedFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${TEST_API_KEY}`);
  return fetch(url, { ...init, headers });
}
