import type { GroupPosition, Sample, ThroughputStage } from './pipeline-sampler';
import { coresBetween } from './process-cpu';

export function samplesBetween(samples: readonly Sample[], fromMs: number, toMs: number): Sample[] {
  return samples.filter((sample) => sample.atMs >= fromMs && sample.atMs <= toMs);
}

/** The collector's counters start from zero in each of its processes: only samples of one process compare. */
function comparable(stage: ThroughputStage, before: Sample, after: Sample): boolean {
  return (
    !stage.startsWith('collector-') ||
    (before.collectorPid !== undefined && before.collectorPid === after.collectorPid)
  );
}

/** Records per second of a stage between two samples; undefined when either lacks it or its service restarted between them. */
export function rateBetween(before: Sample, after: Sample, stage: ThroughputStage): number | undefined {
  const from = before.counts[stage];
  const to = after.counts[stage];
  const seconds = (after.atMs - before.atMs) / 1000;
  if (
    from === undefined ||
    to === undefined ||
    to < from ||
    seconds <= 0 ||
    !comparable(stage, before, after)
  )
    return undefined;
  return (to - from) / seconds;
}

/** Mean records per second of a stage over a window: from its first to its last sample that have it. */
export function windowRate(samples: readonly Sample[], stage: ThroughputStage): number | undefined {
  const having = samples.filter((sample) => sample.counts[stage] !== undefined);
  const first = having[0];
  const last = having[having.length - 1];
  return first && last && first !== last ? rateBetween(first, last, stage) : undefined;
}

/** Records per second written to a group's input topics over a window (by anyone: the topics are shared). */
export function groupInputRate(samples: readonly Sample[], group: string): number | undefined {
  return endsRate(samples, group, (position) => position.ends);
}

/** The same over the group's judged topics only. */
export function judgedInputRate(samples: readonly Sample[], group: string): number | undefined {
  return endsRate(samples, group, (position) => position.judgedEnds);
}

function endsRate(
  samples: readonly Sample[],
  group: string,
  endsOf: (position: GroupPosition) => number,
): number | undefined {
  const having = samples.filter((sample) => sample.groups[group] !== undefined);
  const first = having[0];
  const last = having[having.length - 1];
  if (!first || !last || first === last) return undefined;
  return (
    (endsOf(last.groups[group] as GroupPosition) - endsOf(first.groups[group] as GroupPosition)) /
    ((last.atMs - first.atMs) / 1000)
  );
}

/** Mean cores a process used over a window; undefined when it was not running throughout. */
export function windowCores(samples: readonly Sample[], processName: string): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || first === last) return undefined;
  const before = first.cpu[processName];
  const after = last.cpu[processName];
  return before && after ? coresBetween(before, after, (last.atMs - first.atMs) / 1000) : undefined;
}

/** Mean cores the whole machine was busy over a window. */
export function windowMachineCores(samples: readonly Sample[]): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || first === last) return undefined;
  return (last.machineBusySeconds - first.machineBusySeconds) / ((last.atMs - first.atMs) / 1000);
}
