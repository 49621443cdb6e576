type Labels = Readonly<Record<string, string>>;

interface MetricSample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** One scrape of a service's `/metrics` (Prometheus text format), with the sums this benchmark reads. */
export class PrometheusText {
  private constructor(private readonly samples: readonly MetricSample[]) {}

  static parse(text: string): PrometheusText {
    const samples: MetricSample[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue;
      const match = SAMPLE_LINE.exec(line);
      if (!match) continue;
      const labels: Record<string, string> = {};
      for (const [, name, value] of (match[2] ?? '').matchAll(LABEL))
        labels[name as string] = (value as string).replace(/\\(.)/g, '$1');
      samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
    }
    return new PrometheusText(samples);
  }

  /** Sum of a metric over the label sets `where` accepts (all of them by default); 0 when absent. */
  sum(name: string, where: (labels: Labels) => boolean = () => true): number {
    let total = 0;
    for (const sample of this.samples)
      if (sample.name === name && where(sample.labels)) total += sample.value;
    return total;
  }

  /** The cumulative buckets of a histogram, summed over its label sets, in increasing `le`. */
  buckets(histogram: string): HistogramBucket[] {
    const byBound = new Map<number, number>();
    for (const sample of this.samples) {
      if (sample.name !== `${histogram}_bucket`) continue;
      const bound = sample.labels['le'] === '+Inf' ? Infinity : Number(sample.labels['le']);
      byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
    }
    return [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  }
}

export interface HistogramBucket {
  /** Upper bound (inclusive), seconds. */
  readonly le: number;
  /** Observations at or below it. */
  readonly count: number;
}

/** The observations of a histogram between two scrapes of the same process. */
export function bucketsBetween(
  before: readonly HistogramBucket[],
  after: readonly HistogramBucket[],
): HistogramBucket[] {
  const earlier = new Map(before.map((bucket) => [bucket.le, bucket.count]));
  return after.map((bucket) => ({ le: bucket.le, count: bucket.count - (earlier.get(bucket.le) ?? 0) }));
}

/**
 * A quantile of cumulative buckets as Prometheus' histogram_quantile computes it: linear within the
 * bucket it falls in, the highest finite bound when it falls in the +Inf bucket. Undefined without observations.
 */
export function bucketQuantile(buckets: readonly HistogramBucket[], quantile: number): number | undefined {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = quantile * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      return inBucket <= 0
        ? bucket.le
        : lowerBound + ((bucket.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}
