import type { Command } from 'commander';
import { usageError } from '../lib/cli-error';
import type { Runner } from '../lib/cli-context';
import { renderTable, toJson } from '../lib/output';

export interface DlqPartitionView {
  partition: number;
  low: string;
  high: string;
  records: string;
}

export interface DlqOverviewView {
  dlqTopic: string;
  records: string;
  partitions: DlqPartitionView[];
}

export interface DlqRecordView {
  originalTopic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  encoding: string;
  reason: string;
  errorType: string;
  attempts: number;
  consumerGroup: string;
  failedAt: string;
  dlqPartition: number;
  dlqOffset: string;
}

export interface DlqPageView {
  dlqTopic: string;
  partition: number;
  partitions: DlqPartitionView[];
  records: DlqRecordView[];
  nextOffset: string | null;
}

export interface ReplayReportView {
  dlqTopic: string;
  topic: string;
  replayed: { dlqOffset: string; topic: string; partition: number; offset: string }[];
  missing: string[];
}

export interface PurgeReportView {
  dlqTopic: string;
  partition: number;
  lowBefore: string;
  lowAfter: string;
  deleted: string;
}

/** The dead-letter topic of `topic` (`market.trades` -> `market.trades.dlq`; a DLQ's own name stays). */
export function dlqName(topic: string): string {
  return topic.endsWith('.dlq') ? topic : `${topic}.dlq`;
}

function offset(text: string, flag: string): string {
  if (!/^\d+$/.test(text.trim()))
    throw usageError(`${flag} must be an offset (a whole number), got ${JSON.stringify(text)}`);
  return text.trim();
}

function partitionOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value))
    throw usageError(`--partition must be a non-negative whole number, got ${JSON.stringify(text)}`);
  return value;
}

export interface ReplayOptions {
  partition?: string;
  offsets?: string;
  fromOffset?: string;
  toOffset?: string;
}

/** The replay body: `{partition, offsets}` or `{partition, fromOffset, toOffset}`, never both. */
export function replayBody(options: ReplayOptions): Record<string, unknown> {
  const partition = partitionOf(options.partition);
  const hasRange = options.fromOffset !== undefined || options.toOffset !== undefined;
  if (options.offsets !== undefined && hasRange)
    throw usageError('give either --offsets or --from-offset/--to-offset, not both');
  if (options.offsets !== undefined) {
    const offsets = options.offsets
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '')
      .map((o) => offset(o, '--offsets'));
    if (offsets.length === 0) throw usageError('--offsets names no offset');
    return { partition, offsets };
  }
  if (!hasRange)
    throw usageError('select the records to replay: --offsets 12,15 or --from-offset N [--to-offset M]');
  const fromOffset = offset(options.fromOffset ?? '0', '--from-offset');
  const toOffset = options.toOffset === undefined ? undefined : offset(options.toOffset, '--to-offset');
  if (toOffset !== undefined && BigInt(toOffset) <= BigInt(fromOffset))
    throw usageError('--to-offset must be greater than --from-offset');
  return { partition, fromOffset, ...(toOffset === undefined ? {} : { toOffset }) };
}

/** The purge body; the confirmation must name the DLQ itself, as the gateway asks. */
export function purgeBody(
  topic: string,
  options: { before: string; confirm: string; partition?: string },
): Record<string, unknown> {
  const dlq = dlqName(topic);
  if (options.confirm !== dlq)
    throw usageError(`purging deletes records for good: confirm with --confirm ${dlq}`);
  return {
    confirm: dlq,
    partition: partitionOf(options.partition),
    beforeOffset: offset(options.before, '--before'),
  };
}

export function dlqTable(all: readonly DlqOverviewView[]): string {
  return renderTable(
    ['DLQ', 'RECORDS', 'PARTITIONS'],
    all.map((d) => [
      d.dlqTopic,
      d.records,
      d.partitions
        .filter((p) => p.records !== '0')
        .map((p) => `${p.partition}:${p.low}-${p.high}`)
        .join(' ') || '-',
    ]),
  );
}

export function recordsTable(records: readonly DlqRecordView[]): string {
  return renderTable(
    ['OFFSET', 'FAILED AT', 'ERROR', 'ATTEMPTS', 'ORIGIN', 'KEY', 'REASON'],
    records.map((r) => [
      r.dlqOffset,
      r.failedAt,
      r.errorType,
      r.attempts,
      `${r.originalTopic}/${r.partition}@${r.offset}`,
      r.key,
      r.reason,
    ]),
  );
}

export function registerDlq(program: Command, run: Runner): void {
  const dlq = program.command('dlq').description('dead-letter topics (kafka-gateway /admin/dlq)');
  dlq
    .command('ls')
    .description('every dead-letter topic on the cluster with its record count')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const all = await context.client('kafka-gateway').json<DlqOverviewView[]>('GET', '/admin/dlq');
        if (options.json) return context.io.out(toJson(all));
        context.io.out(dlqTable(all));
      }),
    );
  dlq
    .command('show <topic>')
    .description('a page of the dead-lettered records of a topic: reason, error, origin, key')
    .option('--partition <n>', 'DLQ partition', '0')
    .option('--from-offset <offset>', 'first DLQ offset of the page')
    .option('--limit <n>', 'records per page (1 to 500; the gateway answers 50 without it)')
    .option('--json', 'print JSON (with the original values)')
    .action(
      async (
        topic: string,
        options: { partition: string; fromOffset?: string; limit?: string; json?: boolean },
        cmd: Command,
      ) =>
        run(cmd, async (context) => {
          const query = {
            partition: String(partitionOf(options.partition)),
            offset:
              options.fromOffset === undefined ? undefined : offset(options.fromOffset, '--from-offset'),
            limit: options.limit,
          };
          if (options.limit !== undefined && !/^\d+$/.test(options.limit))
            throw usageError(`--limit must be a whole number, got ${JSON.stringify(options.limit)}`);
          const page = await context
            .client('kafka-gateway')
            .json<DlqPageView>('GET', `/admin/dlq/${encodeURIComponent(topic)}`, { query });
          if (options.json) return context.io.out(toJson(page));
          context.io.out(
            page.records.length > 0 ? recordsTable(page.records) : `${page.dlqTopic} has no records there`,
          );
          if (page.nextOffset !== null)
            context.io.err(
              `more: tributary dlq show ${topic} --partition ${page.partition} --from-offset ${page.nextOffset}`,
            );
        }),
    );
  dlq
    .command('replay <topic>')
    .description('sends selected dead-lettered records back to their topic')
    .option('--partition <n>', 'DLQ partition', '0')
    .option('--offsets <list>', 'comma-separated DLQ offsets')
    .option('--from-offset <offset>', 'first DLQ offset of a range')
    .option('--to-offset <offset>', 'end of the range, exclusive')
    .option('--json', 'print the report as JSON')
    .action(async (topic: string, options: ReplayOptions & { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const body = replayBody(options);
        const report = await context
          .client('kafka-gateway', 120_000)
          .json<ReplayReportView>('POST', `/admin/dlq/${encodeURIComponent(topic)}/replay`, { body });
        if (options.json) return context.io.out(toJson(report));
        context.io.out(
          `replayed ${report.replayed.length} record(s) from ${report.dlqTopic} to ${report.topic}`,
        );
        if (report.missing.length > 0)
          context.io.err(`not in ${report.dlqTopic} (purged or never there): ${report.missing.join(', ')}`);
      }),
    );
  dlq
    .command('purge <topic>')
    .description("deletes dead-lettered records below an offset; --confirm must repeat the DLQ's name")
    .requiredOption('--before <offset>', 'delete the records below this DLQ offset')
    .requiredOption('--confirm <dlq>', 'the name of the DLQ (e.g. market.trades.dlq)')
    .option('--partition <n>', 'DLQ partition', '0')
    .option('--json', 'print the report as JSON')
    .action(
      async (
        topic: string,
        options: { before: string; confirm: string; partition: string; json?: boolean },
        cmd: Command,
      ) =>
        run(cmd, async (context) => {
          const body = purgeBody(topic, options);
          const report = await context
            .client('kafka-gateway', 120_000)
            .json<PurgeReportView>('POST', `/admin/dlq/${encodeURIComponent(topic)}/purge`, { body });
          if (options.json) return context.io.out(toJson(report));
          context.io.out(
            `deleted ${report.deleted} record(s) of ${report.dlqTopic} partition ${report.partition} (first offset ${report.lowBefore} -> ${report.lowAfter})`,
          );
        }),
    );
}
