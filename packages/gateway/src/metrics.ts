import { DENIAL_CODES, PASS_THROUGH_REASONS } from '@control-layer/enrichment';
import type { Context, Middleware } from 'koa';

/** Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values beyond this many per metric are counted under `other`: a bug must not explode a series. */
const MAX_SERIES = 32;

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
}

/** A counter with one label; known values are listed up front so they show as 0 before they happen. */
export class Counter {
  private readonly series = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
    known: readonly string[] = [],
  ) {
    for (const value of known) this.series.set(value, 0);
  }

  inc(labelValue: string, by = 1): void {
    const key = this.series.has(labelValue) || this.series.size < MAX_SERIES ? labelValue : 'other';
    this.series.set(key, (this.series.get(key) ?? 0) + by);
  }

  get(labelValue: string): number {
    return this.series.get(labelValue) ?? 0;
  }

  render(): string {
    let text = header(this.name, this.help, 'counter');
    for (const [value, count] of this.series) text += `${this.name}{${this.label}="${escapeLabel(value)}"} ${count}\n`;
    return text;
  }
}

/** A gauge without labels: a value set from outside (a probe's last answer). */
export class Gauge {
  private value = 0;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(value: number): void {
    this.value = value;
  }

  get(): number {
    return this.value;
  }

  render(): string {
    return `${header(this.name, this.help, 'gauge')}${this.name} ${this.value}\n`;
  }
}

interface HistogramSeries {
  buckets: number[];
  sum: number;
  count: number;
}

/** A histogram with one label and fixed upper bounds (in the unit of its name). */
export class Histogram {
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
    readonly bounds: readonly number[],
  ) {}

  observe(labelValue: string, value: number): void {
    const key = this.series.has(labelValue) || this.series.size < MAX_SERIES ? labelValue : 'other';
    let series = this.series.get(key);
    if (!series) {
      series = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    this.bounds.forEach((bound, i) => {
      if (value <= bound) series.buckets[i] = (series.buckets[i] ?? 0) + 1;
    });
    series.sum += value;
    series.count += 1;
  }

  count(labelValue: string): number {
    return this.series.get(labelValue)?.count ?? 0;
  }

  render(): string {
    let text = header(this.name, this.help, 'histogram');
    for (const [value, series] of this.series) {
      const label = `${this.label}="${escapeLabel(value)}"`;
      this.bounds.forEach((bound, i) => {
        text += `${this.name}_bucket{${label},le="${bound}"} ${series.buckets[i] ?? 0}\n`;
      });
      text += `${this.name}_bucket{${label},le="+Inf"} ${series.count}\n`;
      text += `${this.name}_sum{${label}} ${series.sum}\n`;
      text += `${this.name}_count{${label}} ${series.count}\n`;
    }
    return text;
  }
}

/**
 * The gateway's metrics. Labels are closed sets (codes, reasons, status classes); never a key,
 * a user or a model, which would grow without bound and leak who calls what.
 */
export interface GatewayMetrics {
  enriched: Counter;
  passThrough: Counter;
  upstreamFailures: Counter;
  upstreamLatency: Histogram;
  /** 1 while the database answers the readiness probe, else 0. */
  databaseUp: Gauge;
  /** 1 while the upstream accepts connections, else 0. */
  upstreamUp: Gauge;
  render(): string;
}

export function createMetrics(): GatewayMetrics {
  const enriched = new Counter(
    'gateway_enriched_responses_total',
    'Upstream denials replaced by an explained error, by error code.',
    'code',
    DENIAL_CODES,
  );
  const passThrough = new Counter(
    'gateway_passthrough_responses_total',
    'Responses error enrichment left unchanged, by reason.',
    'reason',
    PASS_THROUGH_REASONS,
  );
  const upstreamFailures = new Counter(
    'gateway_upstream_failures_total',
    'Requests that got no upstream response, by the error code returned.',
    'code',
    ['upstream_unavailable', 'upstream_timeout'],
  );
  const upstreamLatency = new Histogram(
    'gateway_upstream_response_seconds',
    'Time from sending a request upstream to its response headers, by status class (error: none came).',
    'status_class',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  );
  const databaseUp = new Gauge('gateway_database_up', 'Whether the database answered its last probe (1) or not (0).');
  const upstreamUp = new Gauge(
    'gateway_upstream_up',
    'Whether the upstream accepted a connection at its last probe (1) or not (0).',
  );
  return {
    enriched,
    passThrough,
    upstreamFailures,
    upstreamLatency,
    databaseUp,
    upstreamUp,
    render: () =>
      [enriched, passThrough, upstreamFailures, upstreamLatency, databaseUp, upstreamUp]
        .map((m) => m.render())
        .join('') + processMetrics(),
  };
}

/** The process's memory, the standard names Prometheus client libraries use. */
function processMetrics(): string {
  const memory = process.memoryUsage();
  return (
    header('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge') +
    `process_resident_memory_bytes ${memory.rss}\n` +
    header('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', 'gauge') +
    `nodejs_heap_size_used_bytes ${memory.heapUsed}\n`
  );
}

export interface MetricsEndpointOptions {
  /** Brings gauges up to date before each scrape (cached probes: cheap). */
  refresh?: () => Promise<void>;
}

/**
 * `GET /metrics` in Prometheus text format.
 *
 * @example
 * router.get('/metrics', metricsEndpoint(metrics));
 */
export function metricsEndpoint(metrics: GatewayMetrics, options: MetricsEndpointOptions = {}): Middleware {
  const { refresh = async () => {} } = options;
  return async function metricsEndpoint(ctx: Context): Promise<void> {
    await refresh();
    ctx.set('cache-control', 'no-store');
    ctx.type = PROMETHEUS_CONTENT_TYPE;
    ctx.body = metrics.render();
  };
}
