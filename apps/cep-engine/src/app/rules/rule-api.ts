/** The rule interface of libs/cep, as this service uses it. */
export type { AlertDescription, CepEvent, CompiledRule, RuleDocument, RuleSpec, RuleSeverity } from '@tributary/cep';
import type { CompiledRule, RuleSpec } from '@tributary/cep';

/** Compiles a rule spec, throwing an Error whose message says what is wrong with it. */
export type RuleCompiler = (spec: RuleSpec) => CompiledRule;
