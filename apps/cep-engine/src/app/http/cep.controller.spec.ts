import { HttpException } from '@nestjs/common';
import type { TypedProducer } from '@tributary/kafka';
import { CepTopics } from '../engine/cep-topics';
import type { CepRunner } from '../kafka/cep-runner';
import { RecentAlerts } from '../observability/recent-alerts';
import { RuleAdmin } from '../rules/rule-admin';
import { RuleBook } from '../rules/rule-book';
import { ruleCompiler, ruleLimitsOf } from '../rules/rule-sources';
import { CepController } from './cep.controller';
import { Registry } from 'prom-client';
import { CepMetrics } from '../observability/cep-metrics';

const HOUR_MS = 3_600_000;
const limits = ruleLimitsOf({ CEP_MAX_WITHIN_MS: 6 * HOUR_MS, CEP_MAX_PARTIAL_MATCHES_PER_KEY: 10_000 });

/** A refused rule never reaches the rules topic: the producer must not be called. */
const producer = {
  sendTo: () => Promise.reject(new Error('a refused rule must not be written to the rules topic')),
} as unknown as TypedProducer;

function controller(): { http: CepController; rules: RuleBook } {
  const rules = new RuleBook(ruleCompiler(limits));
  const admin = new RuleAdmin(rules, producer, new CepTopics(''), 'cep-engine/test', 100);
  return { http: new CepController(rules, admin, {} as CepRunner, new RecentAlerts(10)), rules };
}

async function refusal(request: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await request;
  } catch (error) {
    expect(error).toBeInstanceOf(HttpException);
    const answer = (error as HttpException).getResponse() as { message: string };
    return { status: (error as HttpException).getStatus(), message: answer.message };
  }
  throw new Error('the request was accepted');
}

const weekLongRule = {
  id: 'slow_burst',
  severity: 'warning',
  document: {
    inputs: ['market.trades'],
    keyBy: 'symbol',
    pattern: {
      stages: [{ name: 'trade', oneOrMore: true, allowCombinations: true }],
      within: 7 * 24 * HOUR_MS * 1_000_000,
    },
  },
};

describe('rule limits at the admin endpoints', () => {
  it('POST /rules answers 400 naming within, its value, the maximum and CEP_MAX_WITHIN_MS', async () => {
    expect(await refusal(controller().http.create(weekLongRule))).toEqual({
      status: 400,
      message: 'document.pattern.within: 7d exceeds the maximum 6h (CEP_MAX_WITHIN_MS)',
    });
  });

  it('PUT /rules/:id refuses a built-in whose window parameter exceeds the maximum, naming the parameter', async () => {
    const answer = await refusal(
      controller().http.replace('news', { builtin: 'SENTIMENT_PRICE', params: { windowMs: 24 * HOUR_MS } }),
    );
    expect(answer).toEqual({
      status: 400,
      message: 'params.windowMs: 1d exceeds the maximum 6h (CEP_MAX_WITHIN_MS)',
    });
  });

  it('a rule beyond the limits arriving on the rules topic (from another instance) is kept out of the engines and shown as refused', async () => {
    const { rules } = controller();
    const registry = new Registry();
    new CepMetrics(registry, () => [], rules);
    rules.apply('slow_burst', {
      ...weekLongRule,
      version: 1,
      enabled: true,
      ts: '0',
      updatedBy: 'elsewhere',
    } as never);
    expect(rules.get('slow_burst')?.error).toBe(
      'document.pattern.within: 7d exceeds the maximum 6h (CEP_MAX_WITHIN_MS)',
    );
    expect(rules.enabledRules()).toEqual([]);
    expect(await registry.getSingleMetricAsString('tributary_cep_rules_refused')).toContain(
      'tributary_cep_rules_refused{rule="slow_burst"} 1',
    );
  });

  it('a rule within the limits carries the partial-match bound into its engine', () => {
    const { rules } = controller();
    rules.apply('burst', {
      ...weekLongRule,
      id: 'burst',
      version: 1,
      enabled: true,
      ts: '0',
      updatedBy: 'test',
      document: {
        ...weekLongRule.document,
        pattern: { ...weekLongRule.document.pattern, within: HOUR_MS * 1_000_000 },
      },
    } as never);
    expect(rules.enabledRules().map((rule) => rule.options.maxPartialMatchesPerKey)).toEqual([10_000]);
  });
});
