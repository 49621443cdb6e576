import type { Alert } from '@tributary/contracts';
import { eventually } from '@tributary/testing';
import { CepTestEnvironment, compareAlerts, nanosAt, postJson, replayAlertIds, seeded, sleep, surgeRule } from '../../testing/cep-test-kit';

// kill -9 of the built service at random moments while trades stream in: counted by alertId with a
// read-committed consumer, the alerts are exactly those an uninterrupted engine computes from the same
// records (replayed here in process): none missing, none doubled, none extra.

const CRASHES = Number(process.env['CEP_CRASHES'] ?? 3);
const SYMBOLS = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', 'GGG', 'HHH'];
const began = Date.now();
const progress = (what: string) => process.stderr.write(`[cep crash test +${Date.now() - began} ms] ${what}\n`);

describe('cep-engine killed with SIGKILL while trades stream in (built service, real broker)', () => {
  const env = new CepTestEnvironment('cepCrash', 4);
  const random = seeded(Number(process.env['CEP_CRASH_SEED'] ?? 20250321));
  const alerts: Alert.Value[] = [];
  const rule = surgeRule('surge', { price: 104, size: 900, withinMs: 50 });
  let producing = true;
  let produced = 0;
  const t0 = Date.now() - 600_000;

  async function producer(): Promise<void> {
    let ms = 0;
    while (producing) {
      const batch = Array.from({ length: 20 }, () => {
        ms += 1;
        return {
          symbol: SYMBOLS[Math.floor(random() * SYMBOLS.length)] as string,
          price: Math.round((95 + random() * 10) * 100) / 100,
          size: 1 + Math.floor(random() * 1000),
          ts: nanosAt(t0 + ms),
        };
      });
      await env.produceTrades(batch);
      produced += batch.length;
      await sleep(10);
    }
    // Far later trades on every symbol: the watermark passes every earlier one on every partition.
    await env.produceTrades(SYMBOLS.map((symbol) => ({ symbol, price: 1, size: 1, ts: nanosAt(t0 + ms + 10_000) })));
  }

  beforeAll(async () => {
    await env.createInputs(['market.trades']);
    const service = await env.start('crash-0');
    expect((await postJson(`${service.baseUrl}/rules`, 'POST', rule)).status).toBe(201);
    await env.followAlerts(alerts);
  });

  afterAll(() => env.cleanup());

  it('after every kill -9 and restart, each alert is on cep.alerts exactly once and none is missing', async () => {
    const writing = producer();
    for (let crash = 0; crash < CRASHES; crash++) {
      await sleep(700 + Math.floor(random() * 2500));
      const victim = env.services[env.services.length - 1];
      progress(`kill -9 #${crash + 1}: ${produced} trades produced, ${alerts.length} alerts committed`);
      victim?.child.kill('SIGKILL');
      await victim?.exited;
      await sleep(Math.floor(random() * 500));
      await env.start(`crash-${crash + 1}`);
      progress('ready again');
    }
    await sleep(1500);
    producing = false;
    await writing;
    progress(`producer stopped after ${produced} trades`);

    const expected = await replayAlertIds(env, [rule]);
    progress(`${expected.length} alerts expected`);
    expect(expected.length).toBeGreaterThan(20);
    await eventually(() => new Set(alerts.map((alert) => alert.alertId)).size >= expected.length, 90_000, 'every alert committed').catch(() => undefined);
    await sleep(1000);

    expect(compareAlerts(alerts, expected)).toEqual({ doubled: 0, missing: 0, extra: 0, firstMissing: [] });
    expect(alerts.every((alert) => alert.ruleVersion === 1)).toBe(true);
  });
});
