import {
  easternDay,
  easternTimeMs,
  isTradingDayNumber,
  sessionCloseMs,
  sessionOpenMs,
} from '../chain/market-calendar';

export type TradingSessions = 'regular' | 'continuous';

/**
 * Event time of the simulation, kept as whole epoch milliseconds plus nanoseconds within the
 * millisecond: exact to the nanosecond without BigInt on the hot path, and cheap to print.
 * With regular sessions the clock only runs 09:30-16:00 New York on trading days and jumps the
 * nights, weekends and holidays, as a feed does. Given the wall clock, it never jumps past it: once
 * the simulation has caught up with real time, a close whose next open is still to come is followed
 * by an after-hours session that lasts until that open, so event time stays continuous and never
 * lies in the future (an event from the future fails validation).
 */
export class SimulatedClock {
  private ms: number;
  private subMsNanos = 0;
  private sessionEndMs = Number.POSITIVE_INFINITY;
  /** Increments when a new session starts (day volumes reset). */
  session = 0;

  constructor(
    startMs: number,
    private readonly sessions: TradingSessions,
    private readonly wallClockMs?: () => number,
  ) {
    this.ms = Math.floor(startMs);
    this.enterSession();
  }

  /** Epoch ms (floor). */
  get nowMs(): number {
    return this.ms;
  }

  /** Epoch nanoseconds as a canonical decimal string. */
  nowNanos(): string {
    const sub = this.subMsNanos;
    return `${this.ms}${sub < 10 ? '00000' : sub < 100 ? '0000' : sub < 1000 ? '000' : sub < 10_000 ? '00' : sub < 100_000 ? '0' : ''}${sub}`;
  }

  /** Moves event time forward; at the close, on to the next session's open. */
  advanceSeconds(seconds: number): void {
    const nanos = Math.max(1, Math.round(seconds * 1e9));
    const total = this.subMsNanos + nanos;
    this.ms += Math.floor(total / 1_000_000);
    this.subMsNanos = total % 1_000_000;
    if (this.ms >= this.sessionEndMs) {
      if (this.sessions === 'regular') {
        this.ms = this.sessionEndMs;
        this.subMsNanos = 0;
      }
      this.enterSession();
    }
  }

  /**
   * Moves the clock forward to `ms` (never back), into the session it falls in or the next one: a
   * restarted simulator continues after the event time it had published, so event-time consumers
   * with a persisted watermark do not see its events as late.
   */
  jumpTo(ms: number, wallNowMs?: number): void {
    if (!(ms > this.ms)) return;
    this.ms = Math.floor(ms);
    this.subMsNanos = 0;
    this.enterSession(wallNowMs);
  }

  /**
   * Puts the clock at the open of the session it is in, or of the next one; with a wall clock, an
   * open still to come is waited for in an after-hours session instead.
   */
  private enterSession(wallNowMs = this.wallClockMs?.()): void {
    if (this.sessions === 'continuous') {
      // Around the clock, a new "session" (day volumes reset) starts at each New York midnight.
      this.sessionEndMs = easternTimeMs(easternDay(this.ms) + 1, 0);
      this.session++;
      return;
    }
    let day = easternDay(this.ms);
    for (;;) {
      if (isTradingDayNumber(day) && sessionCloseMs(day) > this.ms) break;
      day++;
    }
    const open = sessionOpenMs(day);
    if (wallNowMs !== undefined && this.ms < open && open > wallNowMs) {
      // Caught up with real time: trade on after hours until the open instead of jumping past now.
      this.sessionEndMs = open;
      this.session++;
      return;
    }
    if (this.ms < open) {
      this.ms = open;
      this.subMsNanos = 0;
    }
    this.sessionEndMs = sessionCloseMs(day);
    this.session++;
  }
}
