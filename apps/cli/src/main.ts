import { processIo } from './lib/cli-context';
import { runCli } from './program';

runCli(process.argv.slice(2), processIo(), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`tributary: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
