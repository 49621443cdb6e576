// Complex event processing in process: the Pattern API, its keyed NFA engine with event time,
// windowed aggregates, and the serialisable (JSON/YAML) pattern format.
export * from './lib/aggregates';
export * from './lib/definition';
export * from './lib/engine';
export * from './lib/pattern';
export * from './lib/watermark';
export { compilePattern, type CompiledPattern, type MatchedEvent } from './lib/nfa';
export * from './lib/rules/rule';
export * from './lib/rules/params';
export { eventTimeParams, edgeTrigger, type BuiltinPattern, type BuiltinPlan, type EdgeTrigger, type Measurement } from './lib/rules/builtin';
export { BUILTIN_PATTERNS, defaultRules } from './lib/rules/builtins';
export { RISK_LIMIT_TYPES } from './lib/rules/builtins/risk-breach';
export { compileRule, DEFAULT_RULE_LIMITS, formatDuration, type RuleLimits } from './lib/rules/compile';
export * from './lib/rules/harness';
export { ScenarioBuilder, type ChainContractInput } from './lib/rules/scenario';
