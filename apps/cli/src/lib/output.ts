/** Text the CLI prints: tables, durations, sizes and the progress line. */

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function renderTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows].map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))),
  );
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `45s`, `3m05s`, `2h04m`; `-` when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `512 B`, `1.5 KiB`, `20.0 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `[########------------]  40%` for a percent between 0 and 100 (clamped). */
export function progressBar(percent: number, width = 24): string {
  const clamped = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0));
  const filled = Math.round((clamped / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(clamped)).padStart(3)}%`;
}

/** A job's progress line: bar, stage and ETA. */
export function jobProgressLine(view: {
  percent: number;
  stage: string;
  etaSeconds: number | null;
  status: string;
}): string {
  const eta = view.status === 'running' ? `  ETA ${formatDuration(view.etaSeconds)}` : '';
  return `${progressBar(view.percent)}  ${view.status === 'queued' ? 'queued' : view.stage}${eta}`;
}

/** A download's progress line: bytes so far, rate and, when the size is known, bar and ETA. */
export function downloadProgressLine(received: number, total: number | null, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (received * 1000) / elapsedMs : 0;
  const speed = `${formatBytes(Math.round(rate))}/s`;
  if (total === null || total <= 0) return `${formatBytes(received)}  ${speed}`;
  const eta = rate > 0 ? (total - received) / rate : null;
  return `${progressBar((received / total) * 100)}  ${formatBytes(received)} of ${formatBytes(total)}  ${speed}  ETA ${formatDuration(eta)}`;
}

/** Pretty JSON for `--json`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
