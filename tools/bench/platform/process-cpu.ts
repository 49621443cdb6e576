import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Linux reports process CPU times in clock ticks (USER_HZ, 100 on every common kernel). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat;
 * undefined when it is gone. Reading another process's stat needs no permission and changes nothing.
 */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (field 14) and stime (field 15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds the whole machine has been busy (every core; idle and I/O wait left out), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    TICKS_PER_SECOND
  );
}

/** Every process whose command name is `name` (e.g. the PostgreSQL server and its backends). */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // ended while listing
    }
  }
  return pids;
}

/** The pid a pid file names, when the file exists and its process runs. */
export function pidFromFile(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && processCpuSeconds(pid) !== undefined ? pid : undefined;
}

/** CPU seconds per pid of one group of processes at one moment. */
export type CpuReading = Readonly<Record<number, number>>;

export function readCpu(pids: readonly number[]): CpuReading {
  const reading: Record<number, number> = {};
  for (const pid of pids) {
    const seconds = processCpuSeconds(pid);
    if (seconds !== undefined) reading[pid] = seconds;
  }
  return reading;
}

/**
 * Cores a group of processes used between two readings: the CPU time of the pids present in both
 * over the wall time between them. Undefined when no pid is in both (a service restarted between them).
 */
export function coresBetween(before: CpuReading, after: CpuReading, seconds: number): number | undefined {
  let used = 0;
  let matched = false;
  for (const [pid, cpu] of Object.entries(after)) {
    const earlier = before[Number(pid)];
    if (earlier === undefined) continue;
    used += cpu - earlier;
    matched = true;
  }
  return matched && seconds > 0 ? used / seconds : undefined;
}
