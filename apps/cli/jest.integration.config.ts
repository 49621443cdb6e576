// The CLI run as a child process against the built gateway, CEP engine and historical-data-manager on the local infra.
export default {
  displayName: 'cli:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.ts',
  testTimeout: 180000,
  maxWorkers: 1,
};
