import type { FieldError } from './field-error';

export type OptionRight = 'call' | 'put';

/** The contract terms an OCC option symbol encodes. */
export interface OccContract {
  /** Option root, e.g. "AAPL", "SPXW" (not always the underlying: SPXW options are on SPX). */
  readonly root: string;
  /** Expiration date, YYYY-MM-DD. */
  readonly expiration: string;
  readonly right: OptionRight;
  readonly strike: number;
}

const OCC_RE = /^([A-Z0-9]{1,6}) *([0-9]{2})([0-9]{2})([0-9]{2})([CP])([0-9]{8})$/;
const DATE_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

/** True for a real calendar date in YYYY-MM-DD form ("2026-02-30" is not one). */
export function isCalendarDate(text: string): boolean {
  const match = DATE_RE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * Parses an OCC option symbol in its compact form ("AAPL250321C00215000") or the space-padded OSI form
 * ("AAPL  250321C00215000"). Returns undefined when it is not one or its date is impossible.
 */
export function parseOccSymbol(symbol: string): OccContract | undefined {
  const match = OCC_RE.exec(symbol);
  if (!match) return undefined;
  const expiration = `20${match[2]}-${match[3]}-${match[4]}`;
  if (!isCalendarDate(expiration)) return undefined;
  return {
    root: match[1],
    expiration,
    right: match[5] === 'C' ? 'call' : 'put',
    strike: Number(match[6]) / 1000,
  };
}

/** Builds the compact OCC symbol of a contract, e.g. ("AAPL", "2025-03-21", "call", 215) -> "AAPL250321C00215000". */
export function formatOccSymbol(contract: OccContract): string {
  if (!/^[A-Z0-9]{1,6}$/.test(contract.root))
    throw new RangeError(`not an OCC option root: ${contract.root}`);
  if (!isCalendarDate(contract.expiration) || !contract.expiration.startsWith('20')) {
    throw new RangeError(`not an expiration date OCC can encode: ${contract.expiration}`);
  }
  const strikeThousandths = Math.round(contract.strike * 1000);
  if (!(strikeThousandths > 0 && strikeThousandths < 100_000_000)) {
    throw new RangeError(`not a strike OCC can encode: ${contract.strike}`);
  }
  const date = contract.expiration.slice(2).replaceAll('-', '');
  return `${contract.root}${date}${contract.right === 'call' ? 'C' : 'P'}${String(strikeThousandths).padStart(8, '0')}`;
}

/**
 * Checks that an option record's symbol agrees with its expiration, right and strike fields, and that the
 * expiration is a real date. `prefix` is the JSON Pointer of the object holding those fields.
 */
export function optionTermsErrors(
  terms: { symbol: string; expiration: string; right: OptionRight; strike: number },
  prefix = '',
): FieldError[] {
  const errors: FieldError[] = [];
  if (!isCalendarDate(terms.expiration)) {
    errors.push({ path: `${prefix}/expiration`, message: `"${terms.expiration}" is not a calendar date` });
  }
  // Hot path (every option quote): compare the symbol's tail with the terms as text; parse only on mismatch.
  const strike = Math.round(terms.strike * 1000);
  const tail = `${terms.expiration.slice(2, 4)}${terms.expiration.slice(5, 7)}${terms.expiration.slice(8, 10)}${terms.right === 'call' ? 'C' : 'P'}${String(strike).padStart(8, '0')}`;
  if (terms.symbol.endsWith(tail) && errors.length === 0) return errors;
  const parsed = parseOccSymbol(terms.symbol);
  if (!parsed) {
    errors.push({ path: `${prefix}/symbol`, message: `"${terms.symbol}" has an impossible expiry date` });
    return errors;
  }
  if (parsed.expiration !== terms.expiration) {
    errors.push({
      path: `${prefix}/expiration`,
      message: `${terms.expiration} disagrees with the symbol ${terms.symbol} (expires ${parsed.expiration})`,
    });
  }
  if (parsed.right !== terms.right) {
    errors.push({
      path: `${prefix}/right`,
      message: `${terms.right} disagrees with the symbol ${terms.symbol} (a ${parsed.right})`,
    });
  }
  if (strike !== Math.round(parsed.strike * 1000)) {
    errors.push({
      path: `${prefix}/strike`,
      message: `${terms.strike} disagrees with the symbol ${terms.symbol} (strike ${parsed.strike})`,
    });
  }
  return errors;
}
