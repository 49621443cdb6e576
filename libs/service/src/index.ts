export { runService, type RunServiceOptions } from './lib/run-service';
export { ServiceCoreModule, type ServiceCoreOptions } from './lib/service-core.module';
export * from './lib/auth';
