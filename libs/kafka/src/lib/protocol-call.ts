import { type Connection, ResponseError } from '@platformatic/kafka';

/**
 * Sends one request with a @platformatic/kafka API function (`<name>V<version>.api`) on a
 * connection and resolves with the answer, also when the answer carries Kafka error codes (the
 * API's parser throws those as a ResponseError holding the whole answer): the caller reads the
 * codes and decides what to retry. Rejects only when no answer came (connection lost, timeout).
 */
export function callApi<R>(connection: Connection, api: unknown, ...args: unknown[]): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    (api as (connection: Connection, ...rest: unknown[]) => void)(
      connection,
      ...args,
      (error: unknown, response: unknown) => {
        const answered =
          error instanceof ResponseError
            ? (error as { response?: unknown }).response
            : error
              ? undefined
              : response;
        if (answered === undefined) reject(error);
        else resolve(answered as R);
      },
    );
  });
}
