// Jest reporter: appends one JSON line per test file (project, path, seconds, outcome) to the file
// named by TRIBUTARY_TEST_TIMINGS, so `npm test` can list the slowest files of the whole run.
// Without that variable it does nothing.
const { appendFileSync } = require('node:fs');
const { relative } = require('node:path');

const WORKSPACE_ROOT = require('node:path').join(__dirname, '..', '..');

class JestFileTimings {
  onTestResult(test, result) {
    const target = process.env.TRIBUTARY_TEST_TIMINGS;
    if (!target) return;
    const { start, end } = result.perfStats;
    const line = {
      project: test.context.config.displayName?.name ?? '',
      file: relative(WORKSPACE_ROOT, result.testFilePath),
      seconds: Math.max(0, (end - start) / 1000),
      failed: result.numFailingTests > 0 || Boolean(result.testExecError),
    };
    appendFileSync(target, `${JSON.stringify(line)}\n`);
  }
}

module.exports = JestFileTimings;
