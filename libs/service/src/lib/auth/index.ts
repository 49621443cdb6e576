export {
  ApiKeyRegistry,
  DEVELOPMENT_API_KEY,
  DEVELOPMENT_SCOPES,
  parseApiKeys,
  type ApiKeyEntry,
} from './api-keys';
export { authConfigIssues, authEnv, type AuthConfig } from './auth-env';
export { Authenticator, presentedCredential, type Principal } from './authenticator';
export {
  BearerTokenVerifier,
  IdentityProviderUnavailable,
  looksLikeJwt,
  TokenRefused,
} from './bearer-tokens';
export {
  HttpIntake,
  HTTP_INTAKE_OPTIONS,
  OPEN_PATHS,
  type AuthenticatedRequest,
  type HttpIntakeOptions,
} from './http-intake';
export {
  DEFAULT_JSON_LIMITS,
  jsonLimitBreach,
  parseBoundedJson,
  textDepthBreach,
  type JsonLimits,
} from './json-limits';
export { Authenticated, REQUIRED_SCOPE, RequireScope, ScopeGuard, type RequiredScope } from './scope.guard';
export { grants, scopeGrants, scopeProblem, type Scope } from './scopes';
export { SecurityLog, type SecurityEvent } from './security-log';
export { PublicServerError, ServerErrorsFilter } from './server-errors.filter';
export { readBoundedBody, type BoundedBody } from './bounded-body';
export { frontDoorProviders } from './front-door';
