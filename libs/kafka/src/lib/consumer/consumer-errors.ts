/**
 * Thrown by a handler to say the record can never be processed (it is wrong, not the world):
 * it goes to the dead-letter topic at once, without the retries meant for passing failures.
 */
export class UnprocessableRecordError extends Error {
  override readonly name: string = 'UnprocessableRecordError';
}

/** The dead-letter topic did not take a record: the batch stops uncommitted and is delivered again. */
export class DeadLetterUnavailableError extends Error {
  override readonly name = 'DeadLetterUnavailableError';

  constructor(
    readonly deadLetterTopic: string,
    cause: unknown,
  ) {
    super(`could not write to ${deadLetterTopic}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** The consumer is shutting down (or out of time to drain): the rest of the batch is left for redelivery. */
export class BatchInterruptedError extends Error {
  override readonly name = 'BatchInterruptedError';
}
