import type { Command } from 'commander';
import { EXIT } from '../lib/cli-error';
import type { Runner } from '../lib/cli-context';
import { renderTable, toJson } from '../lib/output';

export interface ConfigDriftView {
  name: string;
  catalog: string;
  /** Absent when the cluster has no value for it. */
  cluster?: string;
}

export interface TopicDriftView {
  topic: string;
  missing: boolean;
  partitions: { catalog: number; cluster?: number };
  configs: ConfigDriftView[];
  inSync: boolean;
}

export interface DriftReportView {
  inSync: boolean;
  topics: TopicDriftView[];
}

export interface ApplyReportView {
  created: string[];
  partitionsIncreased: { topic: string; from: number; to: number }[];
  partitionsNotDecreased: { topic: string; catalog: number; cluster: number }[];
  configsAligned: { topic: string; configs: ConfigDriftView[] }[];
  after: DriftReportView;
}

/** What differs on one topic, for people: `missing`, `partitions 6 (catalog 12)`, `retention.ms 86400000 (catalog 604800000)`. */
export function describeDrift(topic: TopicDriftView): string {
  if (topic.missing) return 'missing on the cluster';
  const parts: string[] = [];
  if (topic.partitions.cluster !== topic.partitions.catalog)
    parts.push(`partitions ${topic.partitions.cluster ?? '?'} (catalog ${topic.partitions.catalog})`);
  for (const config of topic.configs)
    parts.push(`${config.name} ${config.cluster ?? 'unset'} (catalog ${config.catalog})`);
  return parts.length > 0 ? parts.join(', ') : topic.inSync ? '' : 'differs';
}

/** The catalog topics as a table: partitions on the cluster and in the catalog, and what differs. */
export function topicsTable(topics: readonly TopicDriftView[]): string {
  return renderTable(
    ['TOPIC', 'PARTITIONS', 'STATE', 'DIFFERS'],
    topics.map((t) => [
      t.topic,
      t.missing ? `-/${t.partitions.catalog}` : `${t.partitions.cluster ?? '?'}/${t.partitions.catalog}`,
      t.missing ? 'missing' : t.inSync ? 'in sync' : 'drift',
      t.inSync ? '' : describeDrift(t),
    ]),
  );
}

/** What an apply changed, one line each; `nothing to change` when the cluster already matched. */
export function applyLines(report: ApplyReportView): string[] {
  const lines = [
    ...report.created.map((topic) => `created ${topic}`),
    ...report.partitionsIncreased.map((p) => `partitions of ${p.topic}: ${p.from} -> ${p.to}`),
    ...report.configsAligned.flatMap((a) =>
      a.configs.map((c) => `config of ${a.topic}: ${c.name} ${c.cluster ?? 'unset'} -> ${c.catalog}`),
    ),
    ...report.partitionsNotDecreased.map(
      (p) =>
        `not changed: ${p.topic} has ${p.cluster} partitions, the catalog ${p.catalog} (partitions only grow)`,
    ),
  ];
  return lines.length > 0 ? lines : ['nothing to change: the cluster matches the catalog'];
}

export function registerTopics(program: Command, run: Runner): void {
  const topics = program
    .command('topics')
    .description('the topic catalog on the cluster (kafka-gateway /admin/topics)');
  topics
    .command('ls')
    .description('every catalog topic and dead-letter topic, with its drift from the catalog')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const report = await context.client('kafka-gateway').json<DriftReportView>('GET', '/admin/topics');
        if (options.json) return context.io.out(toJson(report));
        context.io.out(topicsTable(report.topics));
      }),
    );
  topics
    .command('drift')
    .description('only the topics that differ from the catalog; exit 1 when one does')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const report = await context.client('kafka-gateway').json<DriftReportView>('GET', '/admin/topics');
        const drifting = report.topics.filter((t) => !t.inSync);
        if (options.json) context.io.out(toJson({ inSync: drifting.length === 0, topics: drifting }));
        else if (drifting.length === 0) context.io.out('every catalog topic is in sync');
        else {
          context.io.out(
            renderTable(
              ['TOPIC', 'DIFFERS'],
              drifting.map((t) => [t.topic, describeDrift(t)]),
            ),
          );
          context.io.err(
            `${drifting.length} topic${drifting.length === 1 ? '' : 's'} differ from the catalog (tributary topics apply aligns them)`,
          );
        }
        return drifting.length === 0 ? EXIT.ok : EXIT.failed;
      }),
    );
  topics
    .command('apply')
    .description('creates missing topics, adds partitions and aligns configs; prints what changed')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const report = await context
          .client('kafka-gateway', 120_000)
          .json<ApplyReportView>('POST', '/admin/topics/apply');
        if (options.json) return context.io.out(toJson(report));
        context.io.out(applyLines(report).join('\n'));
      }),
    );
}
