// Integration tests talk to the real local Kafka (tools/infra) and run the built service.
export default {
  displayName: 'cep-engine:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 180000,
  maxWorkers: 1,
};
