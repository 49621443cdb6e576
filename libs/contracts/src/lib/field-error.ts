/** One problem found in a record, named by its JSON Pointer path (e.g. "/bidPrice", "/contracts/3/strike"). */
export interface FieldError {
  /** JSON Pointer to the offending field; "" for the record as a whole. */
  readonly path: string;
  /** What is wrong, in words a person reading a 4xx response or a DLQ header understands. */
  readonly message: string;
}

/** What semantic checks need besides the record: the wall clock, injected so tests and replays stay deterministic. */
export interface ValidationContext {
  /** Current time in epoch milliseconds. */
  readonly nowMs: number;
  /** How far in the future an event time may lie before it is refused as garbage (clock skew allowance). */
  readonly maxFutureSkewMs: number;
}
