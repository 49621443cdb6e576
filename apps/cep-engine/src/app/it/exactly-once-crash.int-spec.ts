import type { Alert } from '@tributary/contracts';
import { eventually } from '@tributary/testing';
import { CepTestEnvironment, compareAlerts, nanosAt, postJson, replayAlertIds, seeded, sleep, surgeRule } from '../../testing/cep-test-kit';

// kill -9 of the built service at random moments while trades stream in: counted by alertId with a
// read-committed consumer, the alerts are exactly those an uninterrupted engine computes from the same
// records (replayed here in process): none missing, none doubled, none extra.

const CRASHES = Number(process.env['CEP_CRASHES'] ?? 3);
/** Each kill comes after 500 to 3,000 more trades; 0 to 500 more are written while the engine is down. */
const TRADES_BEFORE_KILL = { least: 500, spread: 2_500 };
const TRADES_WHILE_DOWN = { least: 0, spread: 500 };
/** Trades written after the last restart, before the producer stops. */
const TRADES_AFTER_LAST_RESTART = 1_000;
const SYMBOLS = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', 'GGG', 'HHH'];
const began = Date.now();
const progress = (what: string) => process.stderr.write(`[cep crash test +${Date.now() - began} ms] ${what}\n`);

describe('cep-engine killed with SIGKILL while trades stream in (built service, real broker)', () => {
  const env = new CepTestEnvironment('cepCrash', 4);
  const seed = Number(process.env['CEP_CRASH_SEED'] ?? 20250321);
  const random = seeded(seed);
  /** When to kill and restart, drawn apart from the trades so both replay exactly. */
  const schedule = seeded(seed + 1);
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

  /** Waits until `count` more trades than now are written: the stream's progress, not time, places the kills. */
  async function moreTradesProduced(count: number, what: string): Promise<void> {
    const target = produced + count;
    await eventually(() => produced >= target, `${count} more trades produced ${what}`);
  }

  it('after every kill -9 and restart, each alert is on cep.alerts exactly once and none is missing', async () => {
    const writing = producer();
    for (let crash = 0; crash < CRASHES; crash++) {
      await moreTradesProduced(TRADES_BEFORE_KILL.least + Math.floor(schedule() * TRADES_BEFORE_KILL.spread), `before kill #${crash + 1}`);
      const victim = env.services[env.services.length - 1];
      progress(`kill -9 #${crash + 1}: ${produced} trades produced, ${alerts.length} alerts committed`);
      victim?.child.kill('SIGKILL');
      await victim?.exited;
      await moreTradesProduced(TRADES_WHILE_DOWN.least + Math.floor(schedule() * TRADES_WHILE_DOWN.spread), 'while the engine is down');
      await env.start(`crash-${crash + 1}`);
      progress('ready again');
    }
    await moreTradesProduced(TRADES_AFTER_LAST_RESTART, 'after the last restart');
    producing = false;
    await writing;
    progress(`producer stopped after ${produced} trades`);

    const expected = await replayAlertIds(env, [rule]);
    progress(`${expected.length} alerts expected`);
    expect(expected.length).toBeGreaterThan(20);
    await env.allAlertsRead(['market.trades']);
    const committed = await env.committedAlerts();

    expect(compareAlerts(committed, expected)).toEqual({ doubled: 0, missing: 0, extra: 0, firstMissing: [] });
    expect(committed.every((alert) => alert.ruleVersion === 1)).toBe(true);
  }, 600_000);
});
