import { compileRule, defaultRules } from '@tributary/cep';
import type { RuleCompiler, RuleSpec } from './rule-api';

/** How this build compiles rules (built-in patterns and pattern documents), from libs/cep. */
export const ruleCompiler: RuleCompiler = compileRule;

/** The built-in rules an empty rules topic is seeded with. */
export function defaultRuleSpecs(): RuleSpec[] {
  return [...defaultRules()];
}
