import type { Io } from './lib/cli-context';
import { redact, runCli } from './program';

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    progress: () => undefined,
  };
}

describe('the command line', () => {
  it('an unknown command or a missing required option is a usage error, exit 2', async () => {
    expect(await runCli(['bogus'], capture(), {})).toBe(2);
    const io = capture();
    expect(await runCli(['history', 'query', '--dataset', 'market_trades'], io, {})).toBe(2);
    expect(io.stderr.join('\n')).toContain("required option '--from <time>'");
  });

  it('--help exits 0', async () => {
    const io = capture();
    expect(await runCli(['--help'], io, {})).toBe(0);
    expect(io.stdout.join('\n')).toContain('status');
  });

  it('a bad --format is a usage error before any request', async () => {
    const io = capture();
    const code = await runCli(
      ['history', 'query', '--dataset', 'd', '--from', '2026-01-01', '--format', 'xml'],
      io,
      { XDG_CONFIG_HOME: '/nonexistent-dir' },
    );
    expect(code).toBe(2);
  });

  it('never prints the key', () => {
    expect(redact('bad key s3cret-key here', 's3cret-key')).toBe('bad key *** here');
  });
});
