import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { infraDir } from './infra-env';

/**
 * Freezes the local Kafka broker started by `tools/infra/up` (SIGSTOP to the pid it recorded), as a
 * broker that hangs or a network that drops everything would look to clients: connections stay open
 * and nothing answers. Returns the function that thaws it (SIGCONT); it also thaws by itself after
 * `maxMs`, so a failing test can never leave the broker frozen for the tests after it.
 * Only a test file named `*.exclusive.int-spec.ts` may call it: `npm test` runs those alone, after
 * the other integration tests, so no other test sees the pause.
 */
export function freezeKafkaBroker(maxMs = 30_000): () => void {
  const pid = Number(readFileSync(join(infraDir(), 'kafka', 'kafka.pid'), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0)
    throw new Error(`no Kafka pid in ${join(infraDir(), 'kafka', 'kafka.pid')}`);
  process.kill(pid, 'SIGSTOP');
  let thawed = false;
  const thaw = () => {
    if (thawed) return;
    thawed = true;
    clearTimeout(timer);
    process.kill(pid, 'SIGCONT');
  };
  const timer = setTimeout(thaw, maxMs);
  timer.unref();
  process.once('exit', thaw);
  return thaw;
}
