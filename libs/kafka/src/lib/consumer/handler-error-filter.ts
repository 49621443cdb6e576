import { type ArgumentsHost, Catch, type RpcExceptionFilter } from '@nestjs/common';
import { type Observable, throwError } from 'rxjs';

/**
 * Hands a Kafka handler's own error back to {@link KafkaBatchServer} unchanged. Nest's default
 * RPC filter replaces every error with `{ status: 'error', message: 'Internal server error' }`,
 * which would leave the DLQ without the real reason. `connectKafkaConsumer` installs it; an app
 * that wires the server by hand adds it with `microservice.useGlobalFilters(...)` before `listen`.
 */
@Catch()
export class KafkaHandlerErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

/** The error Nest's default RPC filter makes of any handler error. */
export function isNestGenericRpcError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    !(error instanceof Error) &&
    (error as { status?: unknown }).status === 'error' &&
    (error as { message?: unknown }).message === 'Internal server error'
  );
}
