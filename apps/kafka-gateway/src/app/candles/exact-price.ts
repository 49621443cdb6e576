/**
 * Exact decimal arithmetic for VWAP. A trade price is a JSON number; its value is taken as the
 * shortest decimal that prints it (what `JSON.stringify` writes, e.g. 214.12), so sums of
 * price x size are exact scaled integers and do not depend on the order they are added in.
 */

/** A decimal `units / 10^scale`. */
export interface ScaledDecimal {
  readonly units: bigint;
  readonly scale: number;
}

const POWERS: bigint[] = [1n];

export function powerOfTen(exponent: number): bigint {
  for (let index = POWERS.length; index <= exponent; index++) POWERS.push(POWERS[index - 1] * 10n);
  return POWERS[exponent];
}

/** The decimal a finite positive number prints as, exactly. */
export function decimalOf(price: number): ScaledDecimal {
  if (!Number.isFinite(price)) throw new RangeError(`price ${price} is not a finite number`);
  const text = String(price);
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const exponent = e < 0 ? 0 : Number(text.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  let scale = (dot < 0 ? 0 : mantissa.length - dot - 1) - exponent;
  let units = BigInt(digits);
  if (scale < 0) {
    units *= powerOfTen(-scale);
    scale = 0;
  }
  return { units, scale };
}

/** A running exact sum of price x size. */
export class NotionalSum {
  private units = 0n;
  private scale = 0;

  add(value: ScaledDecimal, size: number): void {
    let product = value.units * BigInt(size);
    if (value.scale > this.scale) {
      this.units *= powerOfTen(value.scale - this.scale);
      this.scale = value.scale;
    } else if (value.scale < this.scale) {
      product *= powerOfTen(this.scale - value.scale);
    }
    this.units += product;
  }

  /**
   * The sum divided by `volume`, rounded once to the nearest double: the exact quotient is taken to
   * 24 decimals beyond the prices' own, then parsed (JavaScript parses decimal text correctly rounded).
   */
  divideBy(volume: number): number {
    if (volume <= 0) throw new RangeError(`volume must be positive, got ${volume}`);
    const extra = 24;
    const quotient = (this.units * powerOfTen(extra)) / BigInt(volume);
    const places = this.scale + extra;
    const digits = quotient.toString().padStart(places + 1, '0');
    return Number(`${digits.slice(0, digits.length - places)}.${digits.slice(digits.length - places)}`);
  }
}
