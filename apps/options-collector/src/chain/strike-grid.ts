/**
 * Listed strike grids. Exchanges list strikes at increments that grow with the price level (the
 * "$2.50 / $5 / $10" strike programs) and at $1 for the index ETFs; the grid is a function of the
 * strike alone, so the same contracts exist whatever the price was when they were listed.
 */
export interface StrikeTier {
  /** The tier covers strikes below this level (the last tier should be Infinity). */
  readonly below: number;
  readonly step: number;
}

/** SPY, QQQ, IWM: 1-wide strikes (0.5 below 50). */
export const INDEX_ETF_STRIKES: readonly StrikeTier[] = [
  { below: 50, step: 0.5 },
  { below: Infinity, step: 1 },
];

/** Single stocks: 0.5 under $25, 1 to $50, 2.5 to $200, 5 to $500, 10 above. */
export const SINGLE_STOCK_STRIKES: readonly StrikeTier[] = [
  { below: 25, step: 0.5 },
  { below: 50, step: 1 },
  { below: 200, step: 2.5 },
  { below: 500, step: 5 },
  { below: Infinity, step: 10 },
];

/** Strikes are kept to 1/1000 (the OCC symbol's precision) so repeated steps do not drift. */
function roundStrike(strike: number): number {
  return Math.round(strike * 1000) / 1000;
}

export class StrikeGrid {
  constructor(private readonly tiers: readonly StrikeTier[]) {
    if (tiers.length === 0 || tiers[tiers.length - 1].below !== Infinity) {
      throw new RangeError('the last strike tier must cover every level (below: Infinity)');
    }
  }

  /** Increment of the tier holding `level`. */
  stepAt(level: number): number {
    for (const tier of this.tiers) if (level < tier.below) return tier.step;
    return this.tiers[this.tiers.length - 1].step;
  }

  /** The listed strike at or below `price` (the smallest strike when price is below it). */
  strikeAtOrBelow(price: number): number {
    let lower = 0;
    for (const tier of this.tiers) {
      if (price < tier.below) {
        const strike = roundStrike(lower + Math.floor((price - lower) / tier.step + 1e-9) * tier.step);
        return strike > 0 ? strike : roundStrike(lower + tier.step);
      }
      lower = tier.below;
    }
    return lower;
  }

  next(strike: number): number {
    return roundStrike(strike + this.stepAt(strike));
  }

  /** The strike below, or undefined at the bottom of the grid. */
  previous(strike: number): number | undefined {
    const below = roundStrike(strike - this.stepAt(strike - 1e-9));
    return below > 0 ? below : undefined;
  }

  /** The `count` listed strikes nearest to `price`, ascending (ties broken towards the lower strike). */
  strikesAround(price: number, count: number): number[] {
    const picked: number[] = [];
    let down: number | undefined = this.strikeAtOrBelow(price);
    let up = this.next(down);
    if (down > price) {
      up = down;
      down = undefined;
    }
    while (picked.length < count) {
      if (down !== undefined && (price - down <= up - price)) {
        picked.push(down);
        down = this.previous(down);
      } else {
        picked.push(up);
        up = this.next(up);
      }
    }
    return picked.sort((a, b) => a - b);
  }
}
