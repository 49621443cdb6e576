import { ApiKeyRegistry, DEVELOPMENT_API_KEY, DEVELOPMENT_SCOPES } from './api-keys';
import type { AuthConfig } from './auth-env';
import { BearerTokenVerifier, looksLikeJwt } from './bearer-tokens';
import type { Scope } from './scopes';

/** Who made a request, as far as the service knows: the key's holder or the token's subject. */
export interface Principal {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly via: 'api-key' | 'bearer-token';
}

/** The credential of a request: `Authorization: Bearer <key or token>` or `x-api-key: <key>`. */
export function presentedCredential(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() !== '' ? apiKey.trim() : undefined;
}

/**
 * Turns a presented credential into a {@link Principal}: a JWT goes to the identity provider's
 * keys when `AUTH_JWKS_URL` is set, anything else is looked up among the API keys.
 * Resolves undefined for an unknown key; rejects with `TokenRefused` or
 * `IdentityProviderUnavailable` for a token.
 */
export class Authenticator {
  private readonly keys: ApiKeyRegistry;
  private readonly tokens: BearerTokenVerifier | undefined;

  constructor(config: AuthConfig) {
    const keys = [...config.AUTH_API_KEYS];
    if (config.AUTH_DEV_KEY_ENABLED)
      keys.push({ name: 'development', key: DEVELOPMENT_API_KEY, scopes: DEVELOPMENT_SCOPES });
    this.keys = new ApiKeyRegistry(keys);
    this.tokens =
      config.AUTH_JWKS_URL === undefined
        ? undefined
        : new BearerTokenVerifier({
            jwksUrl: config.AUTH_JWKS_URL,
            issuer: config.AUTH_JWT_ISSUER ?? '',
            audience: config.AUTH_JWT_AUDIENCE ?? '',
            scopeClaim: config.AUTH_JWT_SCOPE_CLAIM,
          });
  }

  async authenticate(credential: string): Promise<Principal | undefined> {
    if (this.tokens !== undefined && looksLikeJwt(credential)) {
      const { name, scopes } = await this.tokens.verify(credential);
      return { name, scopes, via: 'bearer-token' };
    }
    const key = this.keys.authenticate(credential);
    return key === undefined ? undefined : { name: key.name, scopes: key.scopes, via: 'api-key' };
  }
}
