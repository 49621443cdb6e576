// Event contracts: one namespace per event (`OptionQuote.Value`, `OptionQuote.schema`, `OptionQuote.version`).
export * from './lib/events';
export * from './lib/catalog';
export * from './lib/topic-spec';
export * from './lib/headers';
export * from './lib/event-time';
export * from './lib/field-error';
export * from './lib/field-types';
export * from './lib/option-contract';
export { MIN_EVENT_TIME_MS } from './lib/semantic-checks';
export * from './lib/validation';
export * from './lib/compatibility';
export * from './lib/json-schema';
export * from './lib/samples';
export * from './lib/service-access';
