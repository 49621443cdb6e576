// Integration tests run the built service against the real local Kafka, PostgreSQL and S3 server.
export default {
  displayName: 'cdc-listener:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 180000,
  maxWorkers: 1,
};
