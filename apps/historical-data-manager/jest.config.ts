export default {
  displayName: 'historical-data-manager',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  coverageDirectory: '../../coverage/apps/historical-data-manager',
};
