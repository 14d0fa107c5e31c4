import type { Aggregator, MetricValueWithName, Registry } from 'prom-client';

/** What `get()` answers: the shape prom-client's own metrics give a registry and a cluster aggregator. */
export interface HistogramData<L extends string> {
  name: string;
  help: string;
  type: 'histogram';
  values: MetricValueWithName<L | 'le'>[];
  aggregator: Aggregator;
}

interface Series {
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram with one label, observed on every proxied exchange: an observation is a
 * map lookup and a few additions, where prom-client's `Histogram.observe` validates, hashes and
 * allocates on each call. It registers like a prom-client metric and renders the same text
 * (`_bucket` series with `le` up to `+Inf`, then `_sum` and `_count`); cluster workers' values
 * are summed.
 */
export class LatencyHistogram<L extends string> {
  // prom-client's own histograms say so in text; its typings' numeric enum is not what it writes.
  readonly type = 'histogram';
  readonly aggregator: Aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: L,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** Count `value` for the label value `labels[label]` (prom-client's call shape). */
  observe(labels: Record<L, string>, value: number): void {
    const key = labels[this.label];
    let series = this.series.get(key);
    if (!series) {
      series = { counts: new Float64Array(this.upperBounds.length), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (series.counts as Float64Array)[i] = ((series.counts as Float64Array)[i] as number) + 1;
        break;
      }
    }
    series.sum += value;
    series.count += 1;
  }

  async get(): Promise<HistogramData<L>> {
    const values: MetricValueWithName<L | 'le'>[] = [];
    for (const [key, series] of this.series) {
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += series.counts[i] as number;
        values.push({
          labels: { le: bound, [this.label]: key } as never,
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { le: '+Inf', [this.label]: key } as never,
        value: series.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: { [this.label]: key } as never, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.label]: key } as never, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}
