import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type DynamicModule,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  RequestMethod,
} from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream, LevelWithSilent } from 'pino';
import { CorrelationIdMiddleware, correlationIdForRequest } from '../correlation/http-correlation';
import { createLogger } from './logger';

export interface LoggingModuleOptions {
  /** Service name on every line (`options-collector`, `kafka-gateway`, ...). */
  service: string;
  /** Minimum level; `LOG_LEVEL` from `serviceEnv`. Defaults to info. */
  level?: string;
  /** Instance name; `INSTANCE_ID` from `serviceEnv`. Defaults as in `createLogger`. */
  instance?: string;
  /** Where lines go instead of stdout (tests). */
  destination?: DestinationStream;
}

/** Probe and scrape paths, requested every few seconds: logged at debug, not info. */
const PROBE_PATH = /(^|\/)(health(\/live|\/ready)?|metrics)\/?$/;

const ALL_ROUTES = { path: '{*path}', method: RequestMethod.ALL };

type ExpressRequest = IncomingMessage & { originalUrl?: string };

function pathOf(request: ExpressRequest): string {
  const url = request.originalUrl ?? request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Level of the one line written per HTTP request when it completes. */
export function requestLogLevel(
  request: IncomingMessage,
  response: ServerResponse,
  error?: Error,
): LevelWithSilent {
  if (PROBE_PATH.test(pathOf(request))) return 'debug';
  if (error || response.statusCode >= 500) return 'error';
  if (response.statusCode >= 400) return 'warn';
  return 'info';
}

/**
 * JSON logs for a Nest app (nestjs-pino over {@link createLogger}): one line per completed
 * HTTP request (probes and scrapes at debug), the request's correlation ID taken from
 * `x-correlation-id` / `x-request-id` or made up, echoed in the response and present on every
 * line written while handling it. In `main.ts`, route Nest's own logs through it too:
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, { bufferLogs: true });
 * app.useLogger(app.get(Logger)); // Logger from 'nestjs-pino'
 * ```
 */
@Module({})
export class LoggingModule implements NestModule {
  static forRoot(options: LoggingModuleOptions): DynamicModule {
    const logger = createLogger(options.service, options.level ?? 'info', {
      instance: options.instance,
      destination: options.destination,
    });
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          forRoutes: [ALL_ROUTES],
          pinoHttp: {
            logger,
            genReqId: correlationIdForRequest,
            customLogLevel: requestLogLevel,
            // Explicit, because the response may finish outside the request's async context.
            customSuccessObject: (request, _response, fields) => ({ ...fields, correlationId: request.id }),
            customErrorObject: (request, _response, _error, fields) => ({
              ...fields,
              correlationId: request.id,
            }),
            // Lines written during a request carry only what identifies it, not every header.
            serializers: {
              req: (request: { method?: string; url?: string }) => ({
                method: request.method,
                url: request.url,
              }),
              res: (response: { statusCode?: number }) => ({ statusCode: response.statusCode }),
            },
          },
        }),
      ],
      exports: [LoggerModule],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationIdMiddleware).forRoutes(ALL_ROUTES);
  }
}
