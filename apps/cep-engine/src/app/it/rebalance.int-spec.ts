import type { Alert } from '@tributary/contracts';
import { authorizedFetch, eventually } from '@tributary/testing';
import { CepTestEnvironment, compareAlerts, nanosAt, postJson, replayAlertIds, seeded, sleep, surgeRule } from '../../testing/cep-test-kit';

// Two instances of the built service in one group: the second takes half the partition numbers with
// their checkpointed state (partial matches begun on the first complete on the second), then the first
// leaves and the second takes everything. Alerts, counted by id, are exactly an uninterrupted engine's.

const SYMBOLS = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', 'GGG', 'HHH'];

interface Patterns {
  partitions: number[];
  patterns: { id: string; state: { partialMatches: number } }[];
}

describe('cep-engine scaled out to two instances and back (built service, real broker)', () => {
  const env = new CepTestEnvironment('cepScale', 4);
  const random = seeded(7);
  const alerts: Alert.Value[] = [];
  const surge = surgeRule('surge', { price: 104, size: 900, withinMs: 50 });
  // Begins with a size-7 trade, completes with a size >= 995 trade up to 10 minutes later.
  const slow = {
    id: 'slow_build',
    severity: 'info',
    document: {
      inputs: ['market.trades'],
      keyBy: 'symbol',
      outOfOrdernessNs: 5_000_000,
      pattern: {
        stages: [
          { name: 'first', where: { field: 'size', op: '==', to: { value: 7 } } },
          { name: 'second', where: { field: 'size', op: '>=', to: { value: 995 } } },
        ],
        within: 600_000_000_000,
        skip: { kind: 'skipPastLastEvent' },
      },
    },
  };
  const t0 = Date.now() - 600_000;
  let ms = 0;

  async function stream(batches: number): Promise<void> {
    for (let b = 0; b < batches; b++) {
      await env.produceTrades(
        Array.from({ length: 20 }, () => {
          ms += 1;
          return { symbol: SYMBOLS[Math.floor(random() * SYMBOLS.length)] as string, price: Math.round((95 + random() * 10) * 100) / 100, size: 8 + Math.floor(random() * 980), ts: nanosAt(t0 + ms) };
        }),
      );
      await sleep(10);
    }
  }

  async function patterns(base: string): Promise<Patterns> {
    return (await (await authorizedFetch(`${base}/patterns`)).json()) as Patterns;
  }

  beforeAll(async () => {
    await env.createInputs(['market.trades']);
  });

  afterAll(() => env.cleanup());

  it('a second instance takes half the partitions with their state, and the first one leaving hands everything over, losing and doubling no alert', async () => {
    const first = await env.start('scale-a');
    await env.followAlerts(alerts);
    expect((await postJson(`${first.baseUrl}/rules`, 'POST', surge)).status).toBe(201);
    expect((await postJson(`${first.baseUrl}/rules`, 'POST', slow)).status).toBe(201);
    await eventually(async () => (await patterns(first.baseUrl)).partitions.length === 4, 'first instance owns all 4 partitions');

    // Every symbol opens a slow partial match on the first instance.
    ms += 1;
    await env.produceTrades(SYMBOLS.map((symbol) => ({ symbol, price: 100, size: 7, ts: nanosAt(t0 + ms) })));
    await stream(40);
    await eventually(async () => ((await patterns(first.baseUrl)).patterns.find((p) => p.id === 'slow_build')?.state.partialMatches ?? 0) >= SYMBOLS.length, 'slow partial matches on the first instance');

    const second = await env.start('scale-b');
    await eventually(async () => {
      const [a, b] = await Promise.all([patterns(first.baseUrl), patterns(second.baseUrl)]);
      return a.partitions.length === 2 && b.partitions.length === 2 && [...a.partitions, ...b.partitions].sort().join() === '0,1,2,3';
    }, 'partitions split 2 + 2');
    await stream(60);
    // The second instance holds the slow partial matches of its partitions, begun on the first: only the
    // first instance saw their size-7 trades (the stream's trades are at least size 8).
    await eventually(
      async () => ((await patterns(second.baseUrl)).patterns.find((p) => p.id === 'slow_build')?.state.partialMatches ?? 0) > 0,
      'the slow partial matches taken over by the second instance',
    );

    await first.stop();
    await eventually(async () => (await patterns(second.baseUrl)).partitions.length === 4, 'second instance owns all 4');
    ms += 1;
    await env.produceTrades(SYMBOLS.map((symbol) => ({ symbol, price: 100, size: 999, ts: nanosAt(t0 + ms) })));
    await stream(20);
    await env.produceTrades(SYMBOLS.map((symbol) => ({ symbol, price: 1, size: 8, ts: nanosAt(t0 + ms + 10_000) })));

    const expected = await replayAlertIds(env, [surge, slow]);
    await env.allAlertsRead(['market.trades']);
    const committed = await env.committedAlerts();
    expect(compareAlerts(committed, expected)).toEqual({ doubled: 0, missing: 0, extra: 0, firstMissing: [] });
    const slowAlerts = committed.filter((alert) => alert.rule === 'slow_build');
    expect(slowAlerts.length).toBeGreaterThanOrEqual(SYMBOLS.length);
  }, 600_000);
});
