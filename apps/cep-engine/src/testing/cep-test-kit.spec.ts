import type { Alert } from '@tributary/contracts';
import { compareAlerts, RecordLog } from './cep-test-kit';

const alert = (alertId: string) => Buffer.from(JSON.stringify({ alertId }));

describe('the integration tests alert reader', () => {
  it('keeps a record delivered twice at the same offset once, so a reader rebalance is not a doubled alert', () => {
    const alerts: Alert.Value[] = [];
    const log = new RecordLog(alerts);
    expect(log.add(2, '17', alert('a'))).toBe(true);
    expect(log.add(2, '18', alert('b'))).toBe(true);
    expect(log.add(2, '17', alert('a'))).toBe(false);
    expect(compareAlerts(alerts, ['a', 'b'])).toEqual({ doubled: 0, missing: 0, extra: 0, firstMissing: [] });
  });

  it('still counts the same alert id committed at two offsets as doubled', () => {
    const alerts: Alert.Value[] = [];
    const log = new RecordLog(alerts);
    log.add(2, '17', alert('a'));
    log.add(2, '40', alert('a'));
    log.add(5, '3', alert('c'));
    const write = process.stderr.write;
    process.stderr.write = () => true;
    try {
      expect(compareAlerts(alerts, ['a', 'b'])).toEqual({ doubled: 1, missing: 1, extra: 1, firstMissing: ['b'] });
    } finally {
      process.stderr.write = write;
    }
  });
});
