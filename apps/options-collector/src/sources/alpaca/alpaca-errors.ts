/**
 * What the source does about each error the Alpaca market data stream sends (`{T:'error', code, msg}`):
 * - `fatal`: retrying cannot help (bad credentials, a plan without the feed): stop, say why, stay down;
 * - `reconnect`: the connection is unusable but may work again: reconnect with backoff and jitter, then
 *   authenticate and subscribe the current selection again;
 * - `symbol-limit`: the plan caps the symbols of one connection: keep what the server confirmed, cap
 *   further subscriptions at that count and report the contracts left out;
 * - `ignore`: the message is logged and the connection carries on.
 */
export type StreamErrorAction = 'fatal' | 'reconnect' | 'symbol-limit' | 'ignore';

export interface StreamErrorRule {
  readonly meaning: string;
  readonly action: StreamErrorAction;
}

export const STREAM_ERRORS: Readonly<Record<number, StreamErrorRule>> = {
  400: { meaning: 'invalid syntax: the server could not read a message we sent', action: 'ignore' },
  401: { meaning: 'not authenticated: a subscription was sent before authentication', action: 'reconnect' },
  402: { meaning: 'authentication failed: check ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY', action: 'fatal' },
  403: { meaning: 'already authenticated', action: 'ignore' },
  404: { meaning: 'authentication timeout: no auth message within the allowed time', action: 'reconnect' },
  405: { meaning: 'symbol limit exceeded for this plan', action: 'symbol-limit' },
  406: {
    meaning: 'connection limit exceeded: another client (another collector?) holds the account\'s connection',
    action: 'reconnect',
  },
  407: { meaning: 'slow client: we did not read fast enough and the server dropped messages', action: 'reconnect' },
  408: { meaning: 'this feed is not enabled for the account', action: 'fatal' },
  409: { meaning: 'insufficient subscription: the account\'s plan does not include this feed', action: 'fatal' },
  410: { meaning: 'invalid subscribe action for this feed (e.g. a channel it does not have)', action: 'ignore' },
  411: { meaning: 'insufficient scope for this feed', action: 'fatal' },
  412: { meaning: 'option messages are only available in MsgPack format', action: 'fatal' },
  413: { meaning: 'too many symbols in one subscribe message', action: 'ignore' },
  500: { meaning: 'internal error of the Alpaca stream', action: 'reconnect' },
};

/** The rule of a code; an unknown code is treated like a server fault: reconnect. */
export function streamErrorRule(code: number): StreamErrorRule {
  return STREAM_ERRORS[code] ?? { meaning: 'unknown error code', action: 'reconnect' };
}

/** A failure retrying cannot fix; carries the HTTP status or stream code. */
export class AlpacaFatalError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'AlpacaFatalError';
  }
}

/** An HTTP answer the client does not retry (4xx other than 429), with the status and Alpaca's message. */
export class AlpacaHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly path: string,
  ) {
    super(message);
    this.name = 'AlpacaHttpError';
  }
}

/** Alpaca kept answering 429 or 5xx (or not at all) through every attempt: worth trying again later. */
export class AlpacaUnavailableError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'AlpacaUnavailableError';
  }
}
