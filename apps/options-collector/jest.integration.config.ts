// Integration tests talk to the real local Kafka broker (tools/infra).
export default {
  displayName: 'options-collector:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 180000,
  maxWorkers: 1,
};
