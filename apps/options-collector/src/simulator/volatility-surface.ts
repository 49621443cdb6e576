import type { UnderlyingProfile } from './underlying-profiles';

/**
 * Implied volatility the simulated market makers quote: an at-the-money term structure that starts
 * at the current regime's level and mean-reverts to the long-run level with time to expiry, times a
 * quadratic smile in moneyness measured in standard deviations (puts richer for equities). Implied sits above the
 * realised volatility by a variance risk premium, as it does in real markets.
 */
export class VolatilitySurface {
  /** Implied over realised, at the money. */
  private static readonly RISK_PREMIUM = 1.1;
  /** Years over which the term structure reverts half-way to the long run (about two months). */
  private static readonly TERM_REVERSION_YEARS = 0.25;

  constructor(private readonly profile: UnderlyingProfile) {}

  /**
   * @param currentVol the underlying's volatility in its current regime
   * @param forward forward price to the expiry
   */
  impliedVol(currentVol: number, forward: number, strike: number, timeYears: number): number {
    const longRun = this.profile.volatility * VolatilitySurface.RISK_PREMIUM;
    const shortRun = currentVol * VolatilitySurface.RISK_PREMIUM;
    const t = Math.max(timeYears, 1 / (365 * 24));
    const atm = longRun + (shortRun - longRun) * Math.exp(-t / VolatilitySurface.TERM_REVERSION_YEARS);
    // Moneyness in standard deviations: a smile of roughly constant shape in delta across expiries.
    const sigmas = Math.log(strike / forward) / (atm * Math.sqrt(t));
    const m = Math.max(-3, Math.min(3, sigmas));
    const factor = 1 + this.profile.skew * m + this.profile.smile * m * m;
    return Math.min(3, Math.max(0.05, atm * factor));
  }
}
