import { ScenarioBuilder } from '@tributary/cep';
import type { Alert } from '@tributary/contracts';
import { authorizedFetch, eventually } from '@tributary/testing';
import { CepTestEnvironment, nanosAt, postJson } from '../../testing/cep-test-kit';

// RISK_BREACH keys by account, but its inputs (CDC change topics) are keyed by primary key: one
// account's position and limit sit on different partitions. It runs on the global slot, whose owner
// reads every partition of both topics, so the two meet (built service, real broker).

const POSITIONS = 'cdc.trading.positions';
const LIMITS = 'cdc.trading.risk_limits';

describe('a rule whose inputs are not partitioned by its key (built service, real broker)', () => {
  const env = new CepTestEnvironment('cepGlobal', 4);
  const alerts: Alert.Value[] = [];

  beforeAll(async () => {
    await env.createInputs([POSITIONS, LIMITS]);
  });

  afterAll(() => env.cleanup());

  it('a position change and a limit of one account on different partitions raise exactly one RISK_BREACH', async () => {
    const service = await env.start('global-0', { CEP_IDLE_PARTITION_MS: '100ms' });
    await env.followAlerts(alerts);
    const created = await postJson(`${service.baseUrl}/rules`, 'POST', { id: 'risk_breach', severity: 'critical', builtin: 'RISK_BREACH' });
    expect(created.status).toBe(201);
    await eventually(async () => {
      const patterns = (await (await authorizedFetch(`${service.baseUrl}/patterns`)).json()) as { global: boolean; patterns: { id: string; placement: string }[] };
      return patterns.global && patterns.patterns.some((rule) => rule.id === 'risk_breach' && rule.placement === 'global');
    }, 'the instance owns the global slot running risk_breach');

    const scenario = new ScenarioBuilder(nanosAt(Date.now() - 60_000));
    scenario.at(0).limit('ACC-1', 'max_position_quantity', 1_000, { symbol: 'AAPL', op: 'c' });
    await env.produce(LIMITS, [{ value: scenario.events[0]?.value ?? {}, partition: 1 }]);
    scenario.at(1_000).position('ACC-1', 'AAPL', 1_500, 210, 'c');
    await env.produce(POSITIONS, [{ value: scenario.events[1]?.value ?? {}, partition: 3 }]);
    // Another account's change well later moves event time past both.
    scenario.at(10_000).position('ACC-2', 'MSFT', 10, 400, 'c');
    await env.produce(POSITIONS, [{ value: scenario.events[2]?.value ?? {}, partition: 0 }]);

    await eventually(() => alerts.length >= 1, 'the breach alert committed').catch(async (error: unknown) => {
      const patterns = await (await authorizedFetch(`${service.baseUrl}/patterns`)).text();
      throw new Error(`${String(error)}\n${patterns}\n${service.output().slice(-6000)}`);
    });
    // The breach needed the watermark of every partition past both changes (idle ones released by
    // processing time); with every record processed and every alert read, no second one can follow.
    await env.allAlertsRead([POSITIONS, LIMITS]);
    expect(alerts.map((alert) => [alert.rule, alert.key, alert.attributes['limitType'], alert.attributes['exposure']])).toEqual([['risk_breach', 'ACC-1', 'max_position_quantity', 1_500]]);
    expect(alerts[0]?.events.map((event) => [event.topic, event.partition])).toEqual([[env.topic(POSITIONS), 3]]);
  });
});
