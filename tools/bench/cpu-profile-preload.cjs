// Preloaded into a service by a benchmark (NODE_OPTIONS=--require, where --cpu-prof is not allowed):
// samples the CPU from start to exit and writes <CPU_PROFILE_DIR>/<pid>.cpuprofile (open it in Chrome
// DevTools, Performance tab).
const { Session } = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // On the main thread the session answers synchronously, so this completes inside the handler.
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  // At the stop signal (a service re-raises it after its shutdown, so 'exit' may never come), or at exit.
  process.once('SIGTERM', write);
  process.on('exit', write);
}
