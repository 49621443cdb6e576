// Integration tests talk to the real local PostgreSQL (tools/infra).
export default {
  displayName: 'postgres:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 120000,
  maxWorkers: 1,
};
