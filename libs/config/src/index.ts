export * from './lib/env-spec';
export * from './lib/env';
export * from './lib/common-env';
