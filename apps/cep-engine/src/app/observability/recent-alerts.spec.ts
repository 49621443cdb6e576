import { sampleEvent } from '@tributary/contracts';
import { RecentAlerts } from './recent-alerts';

describe('recent alerts', () => {
  it('keeps the latest alerts up to its capacity, newest first, filtered by rule on request', () => {
    const ring = new RecentAlerts(3);
    const alert = (id: string, rule: string) => sampleEvent('cep.alerts', { alertId: id, rule });
    ring.add([alert('1', 'a'), alert('2', 'b'), alert('3', 'a'), alert('4', 'a')]);
    expect(ring.latest().map((a) => a.alertId)).toEqual(['4', '3', '2']);
    expect(ring.latest(10, 'a').map((a) => a.alertId)).toEqual(['4', '3']);
    expect(ring.latest(1).map((a) => a.alertId)).toEqual(['4']);
  });
});
