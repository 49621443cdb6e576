import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type Principal, Authenticator, presentedCredential } from './authenticator';
import { IdentityProviderUnavailable, TokenRefused } from './bearer-tokens';
import { readBoundedBody } from './bounded-body';
import { type JsonLimits, parseBoundedJson } from './json-limits';
import { SecurityLog } from './security-log';

export const HTTP_INTAKE_OPTIONS = Symbol('HTTP_INTAKE_OPTIONS');

export interface HttpIntakeOptions {
  /** Path prefixes whose bodies a service reads itself (the gateway's event ingestion); left unread here. */
  readonly rawBodyPaths: readonly string[];
  /** Largest JSON body of the other routes, in bytes (413 beyond). */
  readonly maxJsonBodyBytes: number;
  readonly jsonLimits: JsonLimits;
}

/** Paths answered without a credential: liveness, readiness and metrics (the scope guard lets them through too). */
export const OPEN_PATHS: readonly string[] = ['/health/live', '/health/ready', '/metrics'];
const OPEN: ReadonlySet<string> = new Set(OPEN_PATHS);

export type AuthenticatedRequest = IncomingMessage & {
  principal?: Principal;
  body?: unknown;
  originalUrl?: string;
};

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

function refuse(
  response: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  const error =
    status === 401
      ? 'Unauthorized'
      : status === 413
        ? 'Payload Too Large'
        : status === 415
          ? 'Unsupported Media Type'
          : status === 503
            ? 'Service Unavailable'
            : 'Bad Request';
  // The body of a refused request is never read: the connection is closed instead of drained.
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    connection: 'close',
    ...headers,
  });
  response.end(JSON.stringify({ statusCode: status, error, message }));
}

/**
 * The front door of every service's HTTP API, registered on the server ahead of any body parser:
 * the credential is checked first (401 before a byte of the body is read), then a JSON body is read
 * within a byte limit and parsed within depth and string-length limits (413/400 naming the limit).
 * Scopes are checked per route afterwards by the {@link ScopeGuard}.
 */
@Injectable()
export class HttpIntake {
  constructor(
    adapterHost: HttpAdapterHost,
    private readonly authenticator: Authenticator,
    private readonly securityLog: SecurityLog,
    @Inject(HTTP_INTAKE_OPTIONS) private readonly options: HttpIntakeOptions,
  ) {
    const adapter = adapterHost.httpAdapter;
    // Undefined when the module is compiled without an HTTP server (a unit test of a provider).
    if (adapter === undefined) return;
    adapter.use(
      (request: AuthenticatedRequest, response: ServerResponse, next: (error?: unknown) => void) => {
        this.authenticate(request, response).then(
          (ok) => (ok ? this.readBody(request, response, next) : undefined),
          (error: unknown) => next(error),
        );
      },
    );
  }

  private async authenticate(request: AuthenticatedRequest, response: ServerResponse): Promise<boolean> {
    const path = pathOf(request);
    if (OPEN.has(path)) return true;
    const credential = presentedCredential(request.headers);
    const refused = (status: number, reason: string, headers?: Record<string, string>): false => {
      this.securityLog.record({
        event: 'refused',
        principal: 'anonymous',
        method: request.method ?? '',
        path,
        status,
        reason,
        remoteAddress: request.socket.remoteAddress,
      });
      refuse(response, status, reason, headers);
      return false;
    };
    const challenge = { 'www-authenticate': 'Bearer' };
    if (credential === undefined)
      return refused(
        401,
        'a credential is required: Authorization: Bearer <key or token>, or x-api-key',
        challenge,
      );
    try {
      const principal = await this.authenticator.authenticate(credential);
      if (principal === undefined) return refused(401, 'unknown API key', challenge);
      request.principal = principal;
      return true;
    } catch (error) {
      if (error instanceof TokenRefused)
        return refused(401, error.message, { 'www-authenticate': 'Bearer error="invalid_token"' });
      if (error instanceof IdentityProviderUnavailable)
        return refused(503, 'the identity provider is unavailable; retry later', { 'retry-after': '5' });
      throw error;
    }
  }

  private readBody(
    request: AuthenticatedRequest,
    response: ServerResponse,
    next: (error?: unknown) => void,
  ): void {
    const path = pathOf(request);
    const method = request.method ?? 'GET';
    if (
      method === 'GET' ||
      method === 'HEAD' ||
      method === 'OPTIONS' ||
      this.options.rawBodyPaths.some((prefix) => path.startsWith(prefix))
    ) {
      return next();
    }
    const limit = this.options.maxJsonBodyBytes;
    readBoundedBody(request, limit, (read) => {
      if ('tooLarge' in read) return refuse(response, 413, `the body is larger than ${limit} bytes`);
      if ('error' in read) return next(read.error);
      if (read.body.length === 0) {
        request.body = undefined;
        return next();
      }
      const type = String(request.headers['content-type'] ?? '')
        .split(';', 1)[0]
        .trim()
        .toLowerCase();
      if (type !== 'application/json' && !type.endsWith('+json')) {
        return refuse(
          response,
          415,
          `the body must be application/json (got ${type === '' ? 'no content-type' : type})`,
        );
      }
      const parsed = parseBoundedJson(read.body.toString('utf8'), this.options.jsonLimits);
      if ('problem' in parsed) return refuse(response, 400, parsed.problem);
      request.body = parsed.value;
      next();
    });
  }
}
