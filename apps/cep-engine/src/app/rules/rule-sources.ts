import { compileRule, defaultRules, type RuleLimits } from '@tributary/cep';
import type { CepEngineConfig } from '../../config';
import type { RuleCompiler, RuleSpec } from './rule-api';

/** The limits every rule is compiled with, from CEP_MAX_WITHIN_MS and CEP_MAX_PARTIAL_MATCHES_PER_KEY. */
export function ruleLimitsOf(config: Pick<CepEngineConfig, 'CEP_MAX_WITHIN_MS' | 'CEP_MAX_PARTIAL_MATCHES_PER_KEY'>): RuleLimits {
  return { maxWithinNs: config.CEP_MAX_WITHIN_MS * 1_000_000, maxPartialMatchesPerKey: config.CEP_MAX_PARTIAL_MATCHES_PER_KEY };
}

/**
 * How this build compiles rules (built-in patterns and pattern documents, libs/cep), within the
 * limits: a rule beyond them does not compile, so the admin endpoints refuse it (400) and a rule
 * arriving on the rules topic is kept out of the engines with its reason.
 */
export function ruleCompiler(limits: RuleLimits): RuleCompiler {
  return (spec) => compileRule(spec, limits);
}

/** The built-in rules an empty rules topic is seeded with. */
export function defaultRuleSpecs(): RuleSpec[] {
  return [...defaultRules()];
}
