import type { ServerResponse } from 'node:http';
import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type AuthenticatedRequest, OPEN_PATHS } from './http-intake';
import { grants, type Scope } from './scopes';
import { SecurityLog } from './security-log';

/** The scope a route needs: fixed (`admin`, `read:cdc.audit`) or built from the request (`produce:<stream>`). */
export type RequiredScope =
  Scope | ((request: { params?: Record<string, string>; query?: Record<string, unknown> }) => Scope);

export const REQUIRED_SCOPE = 'tributary:required-scope';

/** The route needs a credential holding `scope`; `admin` routes are also written to the security log. */
export const RequireScope = (scope: RequiredScope) => SetMetadata(REQUIRED_SCOPE, scope);

/** The route needs only a valid credential (an overview every caller may see, e.g. the service status). */
export const Authenticated = () => SetMetadata(REQUIRED_SCOPE, 'authenticated');

/**
 * Checks the scope of every route (registered globally by `ServiceCoreModule`). Only the paths of
 * {@link OPEN_PATHS} (health probes, metrics) are open; a route without {@link RequireScope} or
 * {@link Authenticated} needs `admin`, so forgetting the decorator closes a route rather than
 * opening it. 403 names the caller and the missing scope.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly securityLog: SecurityLog,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<
      AuthenticatedRequest & { params?: Record<string, string>; query?: Record<string, unknown> }
    >();
    const path = (request.originalUrl ?? request.url ?? '').split('?', 1)[0];
    if (OPEN_PATHS.includes(path)) return true;
    const targets = [context.getHandler(), context.getClass()];
    const required =
      this.reflector.getAllAndOverride<RequiredScope | undefined>(REQUIRED_SCOPE, targets) ?? 'admin';
    const principal = request.principal;
    if (principal === undefined)
      throw new UnauthorizedException(
        'a credential is required: Authorization: Bearer <key or token>, or x-api-key',
      );
    if (required === 'authenticated') return true;
    const scope = typeof required === 'function' ? required(request) : required;
    if (!grants(principal.scopes, scope)) {
      this.securityLog.record({
        event: 'refused',
        principal: principal.name,
        via: principal.via,
        method: request.method ?? '',
        path,
        status: 403,
        reason: `lacks ${scope}`,
      });
      throw new ForbiddenException(`${principal.name} lacks the scope ${scope}`);
    }
    if (scope === 'admin') {
      const response = http.getResponse<ServerResponse>();
      response.once('finish', () =>
        this.securityLog.record({
          event: 'admin-action',
          principal: principal.name,
          via: principal.via,
          method: request.method ?? '',
          path,
          status: response.statusCode,
        }),
      );
    }
    return true;
  }
}
