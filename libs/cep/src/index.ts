// Complex event processing in process: the Pattern API, its keyed NFA engine with event time,
// windowed aggregates, and the serialisable (JSON/YAML) pattern format.
export * from './lib/aggregates';
export * from './lib/definition';
export * from './lib/engine';
export * from './lib/pattern';
export * from './lib/watermark';
export { compilePattern, type CompiledPattern, type MatchedEvent } from './lib/nfa';
