import { SimulatedClock } from './simulated-clock';

// Friday 2025-03-07: the close is 21:00 UTC; Monday 2025-03-10 opens at 13:30 UTC (daylight saving time began on Sunday).
const FRIDAY_BEFORE_CLOSE = Date.UTC(2025, 2, 7, 20, 59, 59);
const FRIDAY_CLOSE = Date.UTC(2025, 2, 7, 21, 0);
const MONDAY_OPEN = Date.UTC(2025, 2, 10, 13, 30);

describe('the simulated clock', () => {
  it('jumps from the close to the next open when it runs behind real time', () => {
    const clock = new SimulatedClock(FRIDAY_BEFORE_CLOSE, 'regular', () => Date.UTC(2026, 0, 1));
    clock.advanceSeconds(2);
    expect(clock.nowMs).toBe(MONDAY_OPEN);
  });

  it('once caught up with real time, goes on after hours from the close instead of jumping into the future', () => {
    // Real time is Friday 22:00 UTC: Monday's open is still to come.
    const clock = new SimulatedClock(FRIDAY_BEFORE_CLOSE, 'regular', () => Date.UTC(2025, 2, 7, 22, 0));
    const session = clock.session;
    clock.advanceSeconds(2);
    expect(clock.nowMs).toBe(FRIDAY_CLOSE);
    expect(clock.session).toBe(session + 1);
    clock.advanceSeconds(60);
    expect(clock.nowMs).toBe(FRIDAY_CLOSE + 60_000);
  });

  it('after hours end at the next open, where the regular session takes over', () => {
    let wall = Date.UTC(2025, 2, 7, 22, 0);
    const clock = new SimulatedClock(FRIDAY_BEFORE_CLOSE, 'regular', () => wall);
    clock.advanceSeconds(2);
    // The simulation keeps pace with real time through the weekend.
    wall = MONDAY_OPEN + 1_000;
    clock.advanceSeconds((MONDAY_OPEN - FRIDAY_CLOSE) / 1000 + 0.5);
    expect(clock.nowMs).toBe(MONDAY_OPEN);
    clock.advanceSeconds(1);
    expect(clock.nowMs).toBe(MONDAY_OPEN + 1_000);
  });

  it('without a wall clock (as fast as possible, stepped) keeps the regular sessions only', () => {
    const clock = new SimulatedClock(FRIDAY_BEFORE_CLOSE, 'regular');
    clock.advanceSeconds(2);
    expect(clock.nowMs).toBe(MONDAY_OPEN);
  });
});
