import type { Command } from 'commander';
import type { Runner } from '../lib/cli-context';
import { renderTable, toJson } from '../lib/output';

interface SnapshotView {
  name: string;
  createdAt?: string;
  datasets?: { dataset?: string; name?: string; files?: number; rows?: number }[] | Record<string, unknown>;
}

function datasetNames(snapshot: SnapshotView): string {
  const datasets = snapshot.datasets;
  if (Array.isArray(datasets)) return datasets.map((d) => d.dataset ?? d.name ?? '?').join(',');
  if (datasets && typeof datasets === 'object') return Object.keys(datasets).join(',');
  return '-';
}

export function registerSnapshots(program: Command, run: Runner): void {
  const snapshots = program
    .command('snapshots')
    .description('archive snapshots (historical-data-manager /v1/snapshots)');
  snapshots
    .command('ls')
    .description('the snapshots kept')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const answer = await context
          .client('historical-data-manager')
          .json<{ snapshots?: SnapshotView[] } | SnapshotView[]>('GET', '/v1/snapshots');
        const all = Array.isArray(answer) ? answer : (answer.snapshots ?? []);
        if (options.json) return context.io.out(toJson(all));
        context.io.out(
          renderTable(
            ['NAME', 'CREATED', 'DATASETS'],
            all.map((s) => [s.name, s.createdAt, datasetNames(s)]),
          ),
        );
      }),
    );
  snapshots
    .command('create <name>')
    .description('records the current files of every dataset (or of --datasets)')
    .option('--datasets <names>', 'comma-separated datasets')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { datasets?: string; json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const body = {
          name,
          ...(options.datasets ? { datasets: options.datasets.split(',').map((d) => d.trim()) } : {}),
        };
        const created = await context
          .client('historical-data-manager')
          .json<SnapshotView>('POST', '/v1/snapshots', { body });
        context.io.out(options.json ? toJson(created) : `created snapshot ${created.name}`);
      }),
    );
  snapshots
    .command('delete <name>')
    .description('releases a snapshot; files only it kept are deleted after the grace period')
    .action(async (name: string, _options: unknown, cmd: Command) =>
      run(cmd, async (context) => {
        await context
          .client('historical-data-manager')
          .send('DELETE', `/v1/snapshots/${encodeURIComponent(name)}`);
        context.io.out(`deleted snapshot ${name}`);
      }),
    );
}
