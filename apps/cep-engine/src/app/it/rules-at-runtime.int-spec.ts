import type { Alert, CepSideOutput } from '@tributary/contracts';
import { authorizedFetch, eventually, waitForHttpStatus } from '@tributary/testing';
import { CepTestEnvironment, nanosAt, postJson, surgeRule } from '../../testing/cep-test-kit';

// The built service against the real broker: a rule changed through the admin endpoint takes effect
// without a restart, its alerts name the new version, and another rule's partial match survives it.

describe('cep-engine rules at runtime (built service, real broker)', () => {
  const env = new CepTestEnvironment('cepRules', 2);
  const alerts: Alert.Value[] = [];
  let base = '';

  beforeAll(async () => {
    await env.createInputs(['market.trades']);
    const service = await env.start('rules-0');
    base = service.baseUrl;
    await env.followAlerts(alerts);
  });

  afterAll(() => env.cleanup());

  it('a changed rule raises alerts under its new version at once, while an unchanged rule keeps its partial matches', async () => {
    const created = await postJson(`${base}/rules`, 'POST', surgeRule('surge', { price: 100, size: 500 }));
    expect(created.status).toBe(201);
    const slow = {
      id: 'slow_build',
      severity: 'info',
      document: {
        inputs: ['market.trades'],
        keyBy: 'symbol',
        outOfOrdernessNs: 5_000_000,
        pattern: {
          stages: [
            { name: 'first', where: { all: [{ field: 'price', op: '>=', to: { value: 50 } }, { field: 'size', op: '==', to: { value: 7 } }] } },
            { name: 'second', where: { field: 'size', op: '>=', to: { value: 9000 } } },
          ],
          within: 600_000_000_000,
          skip: { kind: 'skipPastLastEvent' },
        },
      },
    };
    expect((await postJson(`${base}/rules`, 'POST', slow)).status).toBe(201);
    // Refused with the reason: a rule over a topic the catalog does not know.
    const bad = await postJson(`${base}/rules`, 'POST', { ...surgeRule('broken'), document: { ...surgeRule('broken').document, inputs: ['no.such.topic'] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('no.such.topic');
    expect((await postJson(`${base}/rules`, 'POST', surgeRule('surge'))).status).toBe(409);
    await waitForHttpStatus(`${base}/health/ready`, 200);

    const t0 = Date.now() - 60_000;
    await env.produceTrades([
      { symbol: 'AAA', price: 150, size: 7, ts: nanosAt(t0) },
      { symbol: 'AAA', price: 150, size: 600, ts: nanosAt(t0 + 10) },
      { symbol: 'AAA', price: 1, size: 1, ts: nanosAt(t0 + 100) },
    ]);
    await eventually(() => alerts.some((alert) => alert.rule === 'surge'), 'surge v1 alert');

    const changed = await postJson(`${base}/rules/surge`, 'PUT', { ...surgeRule('surge', { price: 100, size: 400 }), id: undefined });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id: 'surge', version: 2 });
    const patterns = (await (await authorizedFetch(`${base}/patterns`)).json()) as { patterns: { id: string; version: number; state: { partialMatches: number } }[] };
    expect(patterns.patterns.find((pattern) => pattern.id === 'slow_build')?.state.partialMatches).toBeGreaterThanOrEqual(1);
    expect(patterns.patterns.find((pattern) => pattern.id === 'surge')?.version).toBe(2);

    await env.produceTrades([
      { symbol: 'AAA', price: 150, size: 10, ts: nanosAt(t0 + 200) },
      { symbol: 'AAA', price: 150, size: 450, ts: nanosAt(t0 + 210) },
      { symbol: 'AAA', price: 1, size: 9500, ts: nanosAt(t0 + 300) },
      { symbol: 'AAA', price: 1, size: 1, ts: nanosAt(t0 + 400) },
    ]);
    await eventually(() => alerts.some((alert) => alert.rule === 'slow_build'), 'slow_build alert');
    await eventually(() => alerts.filter((alert) => alert.rule === 'surge').length >= 2, 'surge v2 alert');

    const surge = alerts.filter((alert) => alert.rule === 'surge');
    expect(surge.map((alert) => alert.ruleVersion)).toEqual([1, 2]);
    const [slowAlert] = alerts.filter((alert) => alert.rule === 'slow_build');
    // The slow rule's match began with the first trade, before the other rule changed.
    expect(slowAlert?.events.map((event) => event.ts)).toEqual([nanosAt(t0), nanosAt(t0 + 300)]);

    // Disabling a rule: no more alerts from it.
    const disabled = await postJson(`${base}/rules/surge`, 'DELETE');
    expect(disabled.body).toMatchObject({ enabled: false, version: 3 });
    await env.produceTrades([
      { symbol: 'AAA', price: 150, size: 10, ts: nanosAt(t0 + 500) },
      { symbol: 'AAA', price: 150, size: 900, ts: nanosAt(t0 + 510) },
      { symbol: 'AAA', price: 1, size: 1, ts: nanosAt(t0 + 600) },
    ]);
    // The engine has processed those trades and every alert it wrote is read: none came from the disabled rule.
    await env.allAlertsRead(['market.trades']);
    const recent = await eventually(async () => {
      const body = (await (await authorizedFetch(`${base}/alerts/recent?limit=10`)).json()) as { alerts: Alert.Value[] };
      return body.alerts.length >= 3 ? body.alerts : undefined;
    }, 'recent alerts');
    expect((recent ?? []).map((alert) => alert.alertId).sort()).toEqual(alerts.map((alert) => alert.alertId).sort());
    expect(alerts.filter((alert) => alert.rule === 'surge')).toHaveLength(2);
  });

  it('a trade far behind the watermark is written to cep.side-outputs as a late event of the rule reading it, committed like the alerts', async () => {
    const sideOutputs: CepSideOutput.Value[] = [];
    await env.followSideOutputs(sideOutputs);
    const t1 = Date.now() - 30_000;
    await env.produceTrades([
      { symbol: 'LATE', price: 10, size: 1, ts: nanosAt(t1) },
      // ten seconds behind the trade before it: far beyond the rule's 5 ms out-of-orderness
      { symbol: 'LATE', price: 10, size: 2, ts: nanosAt(t1 - 10_000) },
      { symbol: 'LATE', price: 10, size: 3, ts: nanosAt(t1 + 100) },
    ]);
    const late = await eventually(
      () => sideOutputs.find((side) => side.kind === 'late-event' && side.rule === 'slow_build' && side.key === 'LATE'),
      'the late trade on cep.side-outputs',
    );
    expect(late).toMatchObject({ ts: nanosAt(t1 - 10_000), events: [{ topic: env.topic('market.trades'), ts: nanosAt(t1 - 10_000) }] });
  });
});
