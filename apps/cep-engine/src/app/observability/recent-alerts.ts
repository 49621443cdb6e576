import type { Alert } from '@tributary/contracts';

/** The latest committed alerts of this instance, newest last, in a bounded ring. */
export class RecentAlerts {
  private readonly ring: (Alert.Value | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<Alert.Value | undefined>(capacity);
  }

  add(alerts: readonly Alert.Value[]): void {
    for (const alert of alerts) {
      this.ring[this.next] = alert;
      this.next = (this.next + 1) % this.capacity;
      if (this.count < this.capacity) this.count++;
    }
  }

  /** Up to `limit` alerts, newest first, optionally of one rule. */
  latest(limit = this.capacity, rule?: string): Alert.Value[] {
    const out: Alert.Value[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const alert = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (alert && (rule === undefined || alert.rule === rule)) out.push(alert);
    }
    return out;
  }
}
