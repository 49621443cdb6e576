// Platform tests: the five built services against the real local Kafka, PostgreSQL and S3 server.
export default {
  displayName: 'platform-e2e',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 300000,
  maxWorkers: 1,
};
