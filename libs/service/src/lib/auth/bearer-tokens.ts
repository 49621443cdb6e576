import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import type { Scope } from './scopes';

export interface BearerTokenOptions {
  /** Where the identity provider publishes its signing keys (`AUTH_JWKS_URL`). */
  readonly jwksUrl: string;
  /** The `iss` a token must carry (`AUTH_JWT_ISSUER`). */
  readonly issuer: string;
  /** The `aud` a token must carry (`AUTH_JWT_AUDIENCE`). */
  readonly audience: string;
  /** The claim holding the scopes: a space-separated string or an array (`AUTH_JWT_SCOPE_CLAIM`). */
  readonly scopeClaim: string;
  /** Clock skew tolerated on `exp` and `nbf`, in seconds. */
  readonly clockToleranceS?: number;
}

/** Why a bearer token was refused, in words safe to send back (never the token). */
export class TokenRefused extends Error {}

/** The identity provider's keys could not be fetched, so no token can be checked now (a 503, not a 401). */
export class IdentityProviderUnavailable extends Error {}

/** True when `credential` has the shape of a JWT (three base64url parts), so it is not an API key. */
export function looksLikeJwt(credential: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(credential);
}

function scopesOf(payload: JWTPayload, claim: string): Scope[] {
  let value: unknown = payload;
  // A dotted claim names a nested one (e.g. `realm_access.roles`).
  for (const part of claim.split('.')) {
    value =
      value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (typeof value === 'string') return value.split(/\s+/).filter((scope) => scope !== '');
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === 'string');
  return [];
}

/**
 * OAuth2/OIDC access tokens (JWTs) verified against the identity provider's JWKS: signature,
 * issuer, audience, expiry. The key set is fetched on first use and again when a token names a key
 * it does not hold (key rotation), at most once per cooldown.
 */
export class BearerTokenVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly options: BearerTokenOptions) {
    this.keys = createRemoteJWKSet(new URL(options.jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
    });
  }

  /** The subject and scopes of a valid token; throws {@link TokenRefused} saying why otherwise. */
  async verify(token: string): Promise<{ name: string; scopes: Scope[] }> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceS ?? 30,
      });
      const name = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : 'unnamed-subject';
      return { name: `token:${name}`, scopes: scopesOf(payload, this.options.scopeClaim) };
    } catch (error) {
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
        throw new IdentityProviderUnavailable(
          `the identity provider's keys at ${this.options.jwksUrl} could not be fetched`,
          { cause: error },
        );
      }
      throw new TokenRefused(refusalOf(error));
    }
  }
}

function refusalOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the bearer token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the bearer token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWKSNoMatchingKey)
    return 'the bearer token is signed with a key the identity provider does not publish';
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return 'the bearer token signature does not verify';
  return 'the bearer token is not valid';
}
