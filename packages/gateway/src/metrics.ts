import { DENIAL_CODES, PASS_THROUGH_REASONS } from '@control-layer/enrichment';
import type { Context, Middleware } from 'koa';
import { type Aggregator, Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.ts';
import type { Probe } from './probes.ts';

/** Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The gateway's metrics, each registered in `registry`. Labels are closed sets (codes, reasons,
 * status classes, all typed), never a key, a user or a model, which would grow without bound and
 * leak who calls what.
 */
export interface GatewayMetrics {
  /** The gateway's own series; `/metrics` adds the process's (CPU, memory, event loop, GC). */
  registry: Registry;
  enriched: Counter<'code'>;
  passThrough: Counter<'reason'>;
  upstreamFailures: Counter<'code'>;
  upstreamLatency: LatencyHistogram<'status_class'>;
  diagnosisReads: Counter<'database'>;
  /** 1 while the database answers its probe, else 0 (over a cluster: 1 only if every worker reaches it). */
  databaseUp: Gauge;
  /** 1 while the upstream accepts connections, else 0 (over a cluster: 1 only if every worker reaches it). */
  upstreamUp: Gauge;
  /** The Prometheus text of the gateway's and the process's series. */
  render(): Promise<string>;
}

/** Upper bounds of `gateway_upstream_response_seconds`, in seconds. */
export const UPSTREAM_LATENCY_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** A counter whose `label` values in `known` show as 0 before they first happen. */
function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  label: L,
  known: readonly string[],
): Counter<L> {
  const metric = new Counter<L>({ name, help, labelNames: [label], registers: [registry] });
  for (const value of known) metric.inc({ [label]: value } as Record<L, string>, 0);
  return metric;
}

/**
 * A gauge without labels. Over a cluster the workers' values are combined with `aggregator`: `min`
 * suits an "up" gauge (1 only when every worker sees it up), `sum` a quantity.
 */
export function gauge(
  registry: Registry,
  name: string,
  help: string,
  aggregator: Aggregator = 'min',
  collect?: () => Promise<number | undefined>,
): Gauge {
  return new Gauge({
    name,
    help,
    aggregator,
    registers: [registry],
    ...(collect && {
      // Run by prom-client at every collection, the cluster aggregator's included, so each
      // worker reports its own current answer rather than whatever it last saw.
      async collect(this: Gauge) {
        const value = await collect();
        if (value !== undefined) this.set(value);
      },
    }),
  });
}

/** A probe as a 0/1 gauge value (undefined: no probe, leave the gauge as it is). */
function upValue(probe: Probe | undefined): () => Promise<number | undefined> {
  return async () => (probe ? ((await probe.check()) ? 1 : 0) : undefined);
}

let processRegistry: Registry | undefined;

/**
 * Prometheus's standard process series (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `nodejs_heap_size_used_bytes`, event loop lag, GC): one set per process, however many gateways
 * it runs, since each collector installs its own event-loop and GC observers.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface MetricsOptions {
  /**
   * The cached probes behind `gateway_database_up` and `gateway_upstream_up`, asked at each
   * collection (answers are reused for about a second, so a scrape costs no extra query).
   * @default none: the gauges stay at whatever was `set()`
   */
  probes?: { database?: Probe; upstream?: Probe };
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const { probes = {} } = options;
  const registry = new Registry();
  const metrics = {
    registry,
    enriched: counter(
      registry,
      'gateway_enriched_responses_total',
      'Upstream denials replaced by an explained error, by error code.',
      'code',
      DENIAL_CODES,
    ),
    passThrough: counter(
      registry,
      'gateway_passthrough_responses_total',
      'Responses error enrichment left unchanged, by reason.',
      'reason',
      PASS_THROUGH_REASONS,
    ),
    upstreamFailures: counter(
      registry,
      'gateway_upstream_failures_total',
      'Requests that got no upstream response, by the error code returned.',
      'code',
      ['upstream_unavailable', 'upstream_timeout'],
    ),
    diagnosisReads: counter(
      registry,
      'gateway_diagnosis_reads_total',
      'Diagnosis statements by the database they ran on, with a read replica configured (a replica read that failed and ran again on the primary counts on both).',
      'database',
      ['primary', 'replica'],
    ),
    upstreamLatency: new LatencyHistogram(
      'gateway_upstream_response_seconds',
      'Time from sending a request upstream to its response headers, by status class (error: none came).',
      'status_class',
      UPSTREAM_LATENCY_BUCKETS,
      registry,
    ),
    databaseUp: gauge(
      registry,
      'gateway_database_up',
      'Whether the database answered its last probe (1) or not (0).',
      'min',
      upValue(probes.database),
    ),
    upstreamUp: gauge(
      registry,
      'gateway_upstream_up',
      'Whether the upstream accepted a connection at its last probe (1) or not (0).',
      'min',
      upValue(probes.upstream),
    ),
  };
  const combined = Registry.merge([registry, processMetrics()]);
  return { ...metrics, registry: combined, render: () => combined.metrics() };
}

/** Where `/metrics` gets its text: this process's metrics, or (in a cluster worker) every worker's sum. */
export type MetricsSource = () => Promise<string>;

export interface MetricsEndpointOptions {
  /** Brings gauges up to date before each scrape (cached probes: cheap). */
  refresh?: () => Promise<void>;
}

/**
 * `GET /metrics` in Prometheus text format. A source that fails (a cluster that does not answer)
 * gives a 503, so a scrape reports a failure rather than one worker's share as the whole.
 *
 * @example
 * router.get('/metrics', metricsEndpoint(() => metrics.render()));
 */
export function metricsEndpoint(source: MetricsSource, options: MetricsEndpointOptions = {}): Middleware {
  const { refresh = async () => {} } = options;
  return async function metricsEndpoint(ctx: Context): Promise<void> {
    await refresh();
    ctx.set('cache-control', 'no-store');
    let text: string;
    try {
      text = await source();
    } catch (error) {
      ctx.status = 503;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`;
      return;
    }
    ctx.type = PROMETHEUS_CONTENT_TYPE;
    ctx.body = text;
  };
}
