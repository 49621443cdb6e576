/** Minimal charts drawn as inline SVG, so the report is one self-contained HTML file. */

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#393b79',
  '#637939',
];
const WIDTH = 1100;
const HEIGHT = 320;
const MARGIN = { left: 72, right: 340, top: 28, bottom: 40 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface LineSeries {
  readonly name: string;
  /** One value per x; null leaves a gap. */
  readonly values: readonly (number | null)[];
}

/** A stretch of the x axis to shade and name (a ramp step, the sustained run). */
export interface Band {
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

interface Scale {
  at(value: number): number;
  readonly ticks: readonly number[];
}

function niceStep(range: number): number {
  const raw = range / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  return (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1) * magnitude;
}

function linearScale(min: number, max: number, pixels: number, inverted: boolean): Scale {
  const top = max > min ? max : min + 1;
  const step = niceStep(top - min);
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= top + step / 1e6; tick += step)
    ticks.push(Number(tick.toPrecision(12)));
  const at = (value: number) => ((value - min) / (top - min)) * pixels;
  return { at: inverted ? (value) => pixels - at(value) : at, ticks };
}

function logScale(min: number, max: number, pixels: number): Scale {
  const low = Math.floor(Math.log10(min));
  const high = Math.max(low + 1, Math.ceil(Math.log10(max)));
  const ticks = Array.from({ length: high - low + 1 }, (_, i) => 10 ** (low + i));
  return {
    at: (value) => pixels - ((Math.log10(Math.max(value, 10 ** low)) - low) / (high - low)) * pixels,
    ticks,
  };
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 1e6) return `${value / 1e6}M`;
  if (Math.abs(value) >= 1e3) return `${value / 1e3}k`;
  return String(value);
}

/** The names at the right of the plot; the first `colored` of them with the colour of their line or bar. */
function legend(names: readonly string[], colored: number): string {
  return names
    .map((name, i) => {
      const y = MARGIN.top + 6 + i * 18;
      const swatch =
        i < colored
          ? `<rect x="${WIDTH - MARGIN.right + 14}" y="${y - 9}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`
          : '';
      return `${swatch}<text x="${WIDTH - MARGIN.right + 32}" y="${y + 1}" font-size="12">${escapeHtml(name)}</text>`;
    })
    .join('');
}

function frame(
  title: string,
  yLabel: string,
  xLabel: string,
  yScale: Scale,
  xScale: Scale | undefined,
  body: string,
  legendEntries: { readonly names: readonly string[]; readonly colored: number },
): string {
  const yTicks = yScale.ticks
    .map((tick) => {
      const y = MARGIN.top + yScale.at(tick);
      return (
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_WIDTH}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>` +
        `<text x="${MARGIN.left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${formatTick(tick)}</text>`
      );
    })
    .join('');
  const xTicks = xScale
    ? xScale.ticks
        .map((tick) => {
          const x = MARGIN.left + xScale.at(tick);
          return `<text x="${x}" y="${MARGIN.top + PLOT_HEIGHT + 16}" font-size="11" text-anchor="middle">${formatTick(tick)}</text>`;
        })
        .join('')
    : '';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">` +
    `<text x="${MARGIN.left}" y="18" font-size="14" font-weight="bold">${escapeHtml(title)}</text>` +
    yTicks +
    xTicks +
    body +
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_WIDTH}" height="${PLOT_HEIGHT}" fill="none" stroke="#999"/>` +
    `<text x="16" y="${MARGIN.top + PLOT_HEIGHT / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + PLOT_HEIGHT / 2})">${escapeHtml(yLabel)}</text>` +
    `<text x="${MARGIN.left + PLOT_WIDTH / 2}" y="${HEIGHT - 6}" font-size="12" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    legend(legendEntries.names, legendEntries.colored) +
    '</svg>'
  );
}

/** Lines over a shared x axis (seconds of the run), optionally on a log y axis, with shaded bands. */
export function lineChart(options: {
  title: string;
  yLabel: string;
  x: readonly number[];
  series: readonly LineSeries[];
  bands?: readonly Band[];
  log?: boolean;
}): string {
  const values = options.series.flatMap((series) =>
    series.values.filter((value): value is number => value !== null && Number.isFinite(value)),
  );
  const positive = values.filter((value) => value > 0);
  const yScale = options.log
    ? logScale(Math.max(0.1, Math.min(...positive, 1)), Math.max(...positive, 1), PLOT_HEIGHT)
    : linearScale(0, Math.max(...values, 0), PLOT_HEIGHT, true);
  const xScale = linearScale(0, Math.max(...options.x, 1), PLOT_WIDTH, false);
  const bands = (options.bands ?? [])
    .map((band, i) => {
      const x = MARGIN.left + xScale.at(band.from);
      const width = Math.max(1, xScale.at(band.to) - xScale.at(band.from));
      return (
        `<rect x="${x}" y="${MARGIN.top}" width="${width}" height="${PLOT_HEIGHT}" fill="${i % 2 ? '#f3f6fb' : '#eef3e8'}"/>` +
        `<text x="${x + 3}" y="${MARGIN.top + 12}" font-size="10" fill="#555">${escapeHtml(band.name)}</text>`
      );
    })
    .join('');
  const lines = options.series
    .map((series, i) => {
      let path = '';
      let drawing = false;
      series.values.forEach((value, j) => {
        if (value === null || !Number.isFinite(value)) {
          drawing = false;
          return;
        }
        // On a log axis zero (no lag, nothing written) is drawn on the bottom line.
        const x = (MARGIN.left + xScale.at(options.x[j] as number)).toFixed(1);
        const y = (MARGIN.top + yScale.at(value)).toFixed(1);
        path += `${drawing ? 'L' : 'M'}${x} ${y} `;
        drawing = true;
      });
      return `<path d="${path.trim()}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.6"><title>${escapeHtml(series.name)}</title></path>`;
    })
    .join('');
  const names = options.series.map((series) => series.name);
  return frame(
    options.title,
    options.yLabel,
    'seconds since sampling started',
    yScale,
    xScale,
    bands + lines,
    { names, colored: names.length },
  );
}

/** Grouped bars on a log axis: one group per category, one bar per measure (e.g. p50, p95, p99). */
export function barChart(options: {
  title: string;
  yLabel: string;
  categories: readonly string[];
  measures: readonly string[];
  values: readonly (readonly (number | undefined)[])[];
}): string {
  const all = options.values.flat().filter((value): value is number => value !== undefined && value > 0);
  const yScale = logScale(Math.max(0.1, Math.min(...all, 1)), Math.max(...all, 10), PLOT_HEIGHT);
  const groupWidth = PLOT_WIDTH / Math.max(1, options.categories.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, options.measures.length);
  const bars = options.categories
    .map((category, i) => {
      const left = MARGIN.left + i * groupWidth + groupWidth * 0.1;
      const rects = options.measures
        .map((measure, j) => {
          const value = options.values[i]?.[j];
          if (value === undefined || value <= 0) return '';
          const y = MARGIN.top + yScale.at(value);
          return (
            `<rect x="${(left + j * barWidth).toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(MARGIN.top + PLOT_HEIGHT - y).toFixed(1)}" fill="${PALETTE[j % PALETTE.length]}">` +
            `<title>${escapeHtml(`${category} ${measure}: ${value} ms`)}</title></rect>`
          );
        })
        .join('');
      const label = `<text x="${(left + groupWidth * 0.4).toFixed(1)}" y="${MARGIN.top + PLOT_HEIGHT + 14}" font-size="10" text-anchor="middle">${escapeHtml(String(i + 1))}</text>`;
      return rects + label;
    })
    .join('');
  const names = [...options.measures, ...options.categories.map((category, i) => `${i + 1}: ${category}`)];
  return frame(options.title, options.yLabel, 'stage (numbered as in the legend)', yScale, undefined, bars, {
    names,
    colored: options.measures.length,
  });
}
