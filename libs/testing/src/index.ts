export * from './lib/infra-env';
export * from './lib/service-process';
export * from './lib/deploy-manifests';
export * from './lib/change-capture-cleanup';
export * from './lib/broker-pause';
export * from './lib/seeded-random';
export * from './lib/tcp-proxy';
