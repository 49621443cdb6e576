// Shared Jest settings for every project: SWC for speed (with Nest's decorator metadata, and
// built-ins bound per module: tools/jest/swc-fast-globals.cjs),
// library imports resolved from source, UTC everywhere so event-time tests are deterministic.
const path = require('node:path');

process.env.TZ = 'UTC';

module.exports = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': [
      path.join(__dirname, 'tools/jest/swc-fast-globals.cjs'),
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: {
    '^@tributary/([a-z-]+)$': path.join(__dirname, 'libs/$1/src/index.ts'),
  },
  clearMocks: true,
  // Per-file durations for the slowest-files list at the end of `npm test` (tools/dev/test).
  reporters: ['default', path.join(__dirname, 'tools/dev/jest-file-timings.cjs')],
};
