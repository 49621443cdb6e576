// Integration tests talk to the real local Kafka, PostgreSQL and S3 server (tools/infra); the crash test runs the built service.
export default {
  displayName: 'historical-data-manager:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 120000,
  maxWorkers: 1,
};
