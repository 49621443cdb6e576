import type { Command } from 'commander';
import { EXIT } from '../lib/cli-error';
import type { CliContext, Runner } from '../lib/cli-context';
import { SERVICES, type ServiceName } from '../lib/endpoints';
import { renderTable, toJson } from '../lib/output';

export interface ServiceReadiness {
  service: ServiceName;
  url: string;
  /** ready: 200; not-ready: answered otherwise; unreachable: no answer. */
  state: 'ready' | 'not-ready' | 'unreachable';
  /** The dependencies the readiness body names as down (or why it could not be asked). */
  down: string[];
}

/** The dependencies a readiness body (Terminus: `info`, `error`, `details`) names as not up. */
export function downDependencies(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const details = ((body as Record<string, unknown>)['error'] ??
    (body as Record<string, unknown>)['details']) as Record<string, unknown> | undefined;
  if (typeof details !== 'object' || details === null) return [];
  return Object.entries(details)
    .filter(([, detail]) => (detail as { status?: unknown } | null)?.status !== 'up')
    .map(([name, detail]) => {
      const d = detail as Record<string, unknown> | null;
      const why =
        typeof d?.['message'] === 'string'
          ? d['message']
          : typeof d?.['reason'] === 'string'
            ? d['reason']
            : undefined;
      return why ? `${name} (${why})` : name;
    });
}

async function readiness(context: CliContext, service: ServiceName): Promise<ServiceReadiness> {
  const client = context.client(service, 10_000);
  try {
    const response = await client.send('GET', '/health/ready', { accept: [503, 500, 404, 401, 403] });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.status === 200) return { service, url: client.baseUrl, state: 'ready', down: [] };
    const down = downDependencies(body);
    return {
      service,
      url: client.baseUrl,
      state: 'not-ready',
      down: down.length > 0 ? down : [`answered ${response.status}`],
    };
  } catch (error) {
    return { service, url: client.baseUrl, state: 'unreachable', down: [(error as Error).message] };
  }
}

/** Exit code of `status`: 0 all ready, 3 when one is unreachable, else 1 when one is not ready. */
export function statusExitCode(all: readonly ServiceReadiness[]): number {
  if (all.some((s) => s.state === 'unreachable')) return EXIT.unreachable;
  if (all.some((s) => s.state === 'not-ready')) return EXIT.failed;
  return EXIT.ok;
}

export function registerStatus(program: Command, run: Runner): void {
  program
    .command('status')
    .description("each service's readiness (GET /health/ready) and what is down")
    .option('--json', 'print JSON')
    .option('--services <names>', `only these services (comma-separated: ${SERVICES.join(', ')})`)
    .action(async (options: { json?: boolean; services?: string }, cmd: Command) =>
      run(cmd, async (context) => {
        const wanted = options.services ? options.services.split(',').map((s) => s.trim()) : SERVICES;
        const unknown = wanted.filter((s) => !(SERVICES as string[]).includes(s));
        if (unknown.length > 0)
          cmd.error(`unknown services: ${unknown.join(', ')} (known: ${SERVICES.join(', ')})`, {
            exitCode: 2,
          });
        const all = await Promise.all(
          (wanted as ServiceName[]).map((service) => readiness(context, service)),
        );
        if (options.json) context.io.out(toJson(all));
        else
          context.io.out(
            renderTable(
              ['SERVICE', 'URL', 'STATE', 'DOWN'],
              all.map((s) => [s.service, s.url, s.state, s.down.join('; ')]),
            ),
          );
        return statusExitCode(all);
      }),
    );
}
