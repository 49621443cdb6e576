import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { CliError, EXIT, usageError } from '../lib/cli-error';
import type { Runner } from '../lib/cli-context';
import { answerMessage } from '../lib/service-client';
import { downloadProgressLine, formatBytes, toJson } from '../lib/output';

export const HISTORY_FORMATS = ['parquet', 'csv', 'ndjson', 'json'] as const;

/** What `X-Tributary-Unreadable-Files` and `-Ranges` say was left out of a partial answer. */
export function unreadableOf(headers: Headers): { files: number; ranges: string[] } {
  const files = Number(headers.get('x-tributary-unreadable-files') ?? '0');
  const ranges = (headers.get('x-tributary-unreadable-ranges') ?? '')
    .split(';')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  return { files: Number.isFinite(files) ? files : 0, ranges };
}

export function registerHistory(program: Command, run: Runner): void {
  const history = program
    .command('history')
    .description('archived history (historical-data-manager /v1/datasets)');
  history
    .command('query')
    .description('rows of a dataset by time range and symbols, streamed to a file (or stdout)')
    .requiredOption('--dataset <name>', 'dataset, e.g. market_trades')
    .requiredOption('--from <time>', 'start, inclusive (ISO-8601 or epoch ns)')
    .option('--to <time>', 'end, exclusive (default: now)')
    .option('--symbols <list>', 'comma-separated symbols')
    .option('--columns <list>', 'comma-separated columns, in the order wanted')
    .option('--limit <n>', 'at most this many rows')
    .option('--snapshot <name>', 'read the files this snapshot recorded')
    .option('--format <format>', `${HISTORY_FORMATS.join(', ')}`, 'csv')
    .option('-o, --output <file>', 'write here (default: stdout)')
    .option('--allow-partial', 'answer with the readable files when some cannot be read, and name the others')
    .option('--json', 'print a JSON summary (file, bytes, unreadable) on stdout')
    .action(
      async (
        options: {
          dataset: string;
          from: string;
          to?: string;
          symbols?: string;
          columns?: string;
          limit?: string;
          snapshot?: string;
          format: string;
          output?: string;
          allowPartial?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) =>
        run(cmd, async (context) => {
          if (!(HISTORY_FORMATS as readonly string[]).includes(options.format)) {
            throw usageError(`--format must be one of ${HISTORY_FORMATS.join(', ')}`);
          }
          if (!options.output && options.json)
            throw usageError('--json needs -o FILE (the rows would share stdout with the summary)');
          const client = context.client('historical-data-manager', 120_000);
          const response = await client.send(
            'GET',
            `/v1/datasets/${encodeURIComponent(options.dataset)}/rows`,
            {
              query: {
                from: options.from,
                to: options.to,
                symbols: options.symbols,
                columns: options.columns,
                limit: options.limit,
                snapshot: options.snapshot,
                format: options.format,
                allowPartial: options.allowPartial ? 'true' : undefined,
              },
              accept: [409],
            },
          );
          if (response.status === 409) {
            const body = await response.text();
            let files = '';
            try {
              const parsed = JSON.parse(body) as { unreadableFiles?: number };
              if (parsed.unreadableFiles !== undefined)
                files = ` (${parsed.unreadableFiles} unreadable files)`;
            } catch {
              // the message alone
            }
            throw new CliError(
              `historical-data-manager at ${client.baseUrl} answered 409: ${answerMessage(body)}${files}; --allow-partial answers with the readable files`,
              EXIT.failed,
            );
          }
          const unreadable = unreadableOf(response.headers);
          const total = response.headers.get('content-length')
            ? Number(response.headers.get('content-length'))
            : null;
          const started = Date.now();
          let received = 0;
          let lastDraw = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              received += chunk.length;
              const now = Date.now();
              if (options.output && now - lastDraw >= 200) {
                lastDraw = now;
                context.io.progress(downloadProgressLine(received, total, now - started));
              }
              done(null, chunk);
            },
          });
          const body = response.body
            ? Readable.fromWeb(response.body as unknown as WebReadableStream)
            : Readable.from([]);
          const sink = options.output ? createWriteStream(options.output) : process.stdout;
          try {
            await pipeline(body, counter, sink, { end: options.output !== undefined });
          } catch (error) {
            throw new CliError(
              `the download from historical-data-manager at ${client.baseUrl} broke off after ${formatBytes(received)}: ${(error as Error).message}`,
              EXIT.failed,
            );
          }
          if (options.output)
            context.io.progress(downloadProgressLine(received, total, Date.now() - started), true);
          if (unreadable.files > 0) {
            context.io.err(
              `tributary: ${unreadable.files} unreadable files left out: ${unreadable.ranges.join('; ')}`,
            );
          }
          if (options.json)
            context.io.out(
              toJson({
                file: options.output,
                bytes: received,
                unreadableFiles: unreadable.files,
                unreadableRanges: unreadable.ranges,
              }),
            );
          else if (options.output) context.io.err(`wrote ${formatBytes(received)} to ${options.output}`);
        }),
    );
}
