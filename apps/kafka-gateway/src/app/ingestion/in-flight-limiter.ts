/**
 * Bounds the events the gateway holds while it waits for broker acknowledgements, so a slow or
 * unavailable broker turns into `429` answers instead of a growing heap.
 */
export class InFlightLimiter {
  private inFlight = 0;

  constructor(readonly capacity: number) {}

  get current(): number {
    return this.inFlight;
  }

  /** Reserves room for `events`, or returns false (nothing reserved) when they do not fit. */
  tryAcquire(events: number): boolean {
    if (this.inFlight + events > this.capacity) return false;
    this.inFlight += events;
    return true;
  }

  release(events: number): void {
    this.inFlight = Math.max(0, this.inFlight - events);
  }
}
