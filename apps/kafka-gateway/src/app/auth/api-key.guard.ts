import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyRegistry, type ApiKey, type Scope } from './api-keys';

interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string>;
  apiKey?: ApiKey;
}

/** The scope a route needs: fixed (`admin`) or built from the request (`produce:<stream>`). */
export type RequiredScope = Scope | ((request: HttpRequest) => Scope);

const REQUIRED_SCOPE = 'tributary:required-scope';

/** Marks a handler or controller as needing an API key that holds `scope`. */
export const RequireScope = (scope: RequiredScope) => SetMetadata(REQUIRED_SCOPE, scope);

export function presentedKey(request: Pick<HttpRequest, 'headers'>): string | undefined {
  const authorization = request.headers['authorization'];
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() !== '' ? apiKey.trim() : undefined;
}

/**
 * 401 when the request carries no key (`Authorization: Bearer <key>` or `x-api-key`) or an unknown
 * one, 403 when the key lacks the scope of the route. Routes without {@link RequireScope} are open
 * (health, metrics). The holder's name is kept on the request as `apiKey` for logs.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride<RequiredScope | undefined>(REQUIRED_SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (required === undefined) return true;
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const presented = presentedKey(request);
    if (presented === undefined) {
      throw new UnauthorizedException('an API key is required: Authorization: Bearer <key> or x-api-key');
    }
    const key = this.keys.authenticate(presented);
    if (key === undefined) throw new UnauthorizedException('unknown API key');
    const scope = typeof required === 'function' ? required(request) : required;
    if (!ApiKeyRegistry.allows(key, scope)) {
      throw new ForbiddenException(`the API key ${key.name} lacks the scope ${scope}`);
    }
    request.apiKey = key;
    return true;
  }
}
