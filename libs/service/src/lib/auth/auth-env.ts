import { type ConfigIssue, type ConfigOf, env, type EnvVar } from '@tributary/config';
import { type ApiKeyEntry, parseApiKeys } from './api-keys';

const apiKeys: EnvVar<ApiKeyEntry[]> = {
  description:
    'API keys, comma-separated name:key:scopes with scopes joined by a vertical bar: admin, read:<name>, produce:<stream>; * matches one dot-separated segment, a final > the rest (ARCHITECTURE.md, Authentication and bounds)',
  secret: true,
  required: false,
  parse: (raw) => (raw === undefined ? [] : parseApiKeys(raw)),
};

/** How every Tributary service authenticates callers: API keys, OIDC bearer tokens, the development key. */
export const authEnv = {
  AUTH_API_KEYS: apiKeys,
  AUTH_DEV_KEY_ENABLED: env.bool({
    default: false,
    description:
      'Also accept the public development key tributary-dev-key with every scope (npm start sets it; refused under NODE_ENV=production)',
  }),
  AUTH_JWKS_URL: env.optionalString({
    description:
      "Identity provider's JWKS URL; when set, OAuth2/OIDC bearer tokens (JWTs) signed by its keys are accepted",
  }),
  AUTH_JWT_ISSUER: env.optionalString({
    description: 'The iss a bearer token must carry (required with AUTH_JWKS_URL)',
  }),
  AUTH_JWT_AUDIENCE: env.optionalString({
    description: 'The aud a bearer token must carry (required with AUTH_JWKS_URL)',
  }),
  AUTH_JWT_SCOPE_CLAIM: env.string({
    default: 'scope',
    description:
      'The token claim holding the scopes, a space-separated string or an array; dots name a nested claim (e.g. realm_access.roles)',
  }),
};

export type AuthConfig = ConfigOf<typeof authEnv>;

/**
 * Checks across the variables: some credential must be accepted, the development key never in
 * production, and a JWKS URL needs the issuer and audience it checks tokens against.
 */
export function authConfigIssues(config: AuthConfig, nodeEnv = process.env['NODE_ENV']): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (config.AUTH_DEV_KEY_ENABLED && nodeEnv === 'production') {
    issues.push({
      variable: 'AUTH_DEV_KEY_ENABLED',
      message: 'the public development key may not be enabled under NODE_ENV=production',
    });
  }
  if (config.AUTH_JWKS_URL !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(config.AUTH_JWKS_URL);
    } catch {
      issues.push({ variable: 'AUTH_JWKS_URL', message: 'must be an absolute URL' });
    }
    if (
      url !== undefined &&
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && isLoopback(url.hostname))
    ) {
      issues.push({ variable: 'AUTH_JWKS_URL', message: 'must use https (http only on the loopback)' });
    }
    if (config.AUTH_JWT_ISSUER === undefined)
      issues.push({ variable: 'AUTH_JWT_ISSUER', message: 'is required when AUTH_JWKS_URL is set' });
    if (config.AUTH_JWT_AUDIENCE === undefined)
      issues.push({ variable: 'AUTH_JWT_AUDIENCE', message: 'is required when AUTH_JWKS_URL is set' });
  }
  if (
    config.AUTH_API_KEYS.length === 0 &&
    config.AUTH_JWKS_URL === undefined &&
    !config.AUTH_DEV_KEY_ENABLED
  ) {
    issues.push({
      variable: 'AUTH_API_KEYS',
      message:
        'no caller could authenticate: set AUTH_API_KEYS or AUTH_JWKS_URL (or AUTH_DEV_KEY_ENABLED=true for local runs)',
    });
  }
  return issues;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
