import type { Command } from 'commander';
import { CliError, EXIT, usageError } from '../lib/cli-error';
import type { CliContext, Runner } from '../lib/cli-context';
import { formatDuration, jobProgressLine, renderTable, toJson } from '../lib/output';

export interface JobView {
  id: string;
  job: string;
  from: string;
  to: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  percent: number;
  stage: string;
  etaSeconds: number | null;
  rows?: { input: number; output: number };
  durationMs?: number | null;
  error?: string | null;
  createdAt?: string;
  result?: Record<string, unknown> | null;
}

/** `--param key=value` (repeatable): the value as JSON when it reads as JSON, else as text. */
export function parseParams(pairs: readonly string[], json?: string): Record<string, unknown> {
  let params: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      params = JSON.parse(json) as Record<string, unknown>;
    } catch {
      throw usageError('--params is not JSON');
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw usageError('--params must be a JSON object');
  }
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`--param ${JSON.stringify(pair)} is not key=value`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // text
    }
    params[pair.slice(0, at)] = value;
  }
  return params;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the run until it ends, drawing its progress; the finished view. */
export async function waitForJob(context: CliContext, id: string, intervalMs: number): Promise<JobView> {
  const client = context.client('historical-data-manager');
  let last = '';
  for (;;) {
    const view = await client.json<JobView>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
    const line = jobProgressLine(view);
    const finished = view.status === 'succeeded' || view.status === 'failed';
    if (line !== last || finished) context.io.progress(line, finished);
    last = line;
    if (finished) return view;
    await sleep(intervalMs);
  }
}

function summary(view: JobView): string {
  const rows = view.rows ? `, ${view.rows.input} rows in, ${view.rows.output} out` : '';
  return `job ${view.id} (${view.job}) ${view.status}${rows}${view.durationMs != null ? ` in ${formatDuration(view.durationMs / 1000)}` : ''}`;
}

export function registerJobs(program: Command, run: Runner): void {
  const jobs = program.command('jobs').description('batch jobs (historical-data-manager /v1/jobs)');
  jobs
    .command('run <kind>')
    .description('runs a batch job (candles, reconcile, features, flow, sentiment) over a range')
    .requiredOption('--from <time>', 'start, inclusive (ISO-8601 or epoch ns)')
    .requiredOption('--to <time>', 'end, exclusive (ISO-8601 or epoch ns)')
    .option('--symbols <list>', 'comma-separated tickers')
    .option(
      '--param <key=value>',
      'a job parameter (repeatable; JSON values allowed, e.g. intervals=\'["1m"]\')',
      collect,
      [],
    )
    .option('--params <json>', 'the job parameters as one JSON object')
    .option('--wait', 'wait for the run to end, with its progress and ETA; exit 1 when it fails')
    .option('--interval <ms>', 'how often --wait asks for progress', '1000')
    .option('--json', 'print JSON')
    .action(
      async (
        kind: string,
        options: {
          from: string;
          to: string;
          symbols?: string;
          param: string[];
          params?: string;
          wait?: boolean;
          interval: string;
          json?: boolean;
        },
        cmd: Command,
      ) =>
        run(cmd, async (context) => {
          const interval = Number(options.interval);
          if (!Number.isInteger(interval) || interval < 100)
            throw usageError('--interval must be a whole number of milliseconds, at least 100');
          const params = parseParams(options.param, options.params);
          const body = {
            job: kind,
            from: options.from,
            to: options.to,
            ...(options.symbols ? { symbols: options.symbols.split(',').map((s) => s.trim()) } : {}),
            ...(Object.keys(params).length > 0 ? { params } : {}),
          };
          const queued = await context
            .client('historical-data-manager')
            .json<JobView>('POST', '/v1/jobs', { body });
          if (!options.wait) {
            context.io.out(
              options.json
                ? toJson(queued)
                : `queued job ${queued.id} (${queued.job}); follow it with: tributary jobs show ${queued.id}`,
            );
            return;
          }
          if (!options.json) context.io.err(`job ${queued.id} (${queued.job}) queued`);
          const done = await waitForJob(context, queued.id, interval);
          context.io.out(options.json ? toJson(done) : summary(done));
          if (done.status === 'failed')
            throw new CliError(`job ${done.id} failed: ${done.error ?? 'no reason given'}`, EXIT.failed);
        }),
    );
  jobs
    .command('ls')
    .description('recent runs')
    .option('--limit <n>', 'at most this many')
    .option('--json', 'print JSON')
    .action(async (options: { limit?: string; json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const { jobs: all } = await context
          .client('historical-data-manager')
          .json<{ jobs: JobView[] }>('GET', '/v1/jobs', { query: { limit: options.limit } });
        if (options.json) return context.io.out(toJson(all));
        context.io.out(
          renderTable(
            ['ID', 'JOB', 'STATUS', 'PERCENT', 'FROM', 'TO', 'CREATED'],
            all.map((j) => [j.id, j.job, j.status, `${Math.floor(j.percent)}%`, j.from, j.to, j.createdAt]),
          ),
        );
      }),
    );
  jobs
    .command('show <id>')
    .description('one run: status, percent, stage, rows, ETA and its result')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const view = await context
          .client('historical-data-manager')
          .json<JobView>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
        if (options.json) return context.io.out(toJson(view));
        context.io.out(
          `${summary(view)}\n${jobProgressLine(view)}${view.error ? `\nerror: ${view.error}` : ''}`,
        );
        if (view.result) context.io.out(toJson(view.result));
      }),
    );
}
