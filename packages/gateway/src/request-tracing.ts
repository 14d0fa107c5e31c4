import type { Context, Middleware } from 'koa';

/** How the upstream call ended, for its span. */
export type UpstreamResult = { status: number } | { error: string };

/**
 * Where the gateway reports its work to a tracer. Only types live here: the OpenTelemetry SDK is
 * loaded (tracing.ts) only when tracing is on, and without these hooks the gateway does none of it.
 */
export interface GatewayTracing {
  /** Outermost middleware: a server span per exchange, continuing an incoming `traceparent`. */
  exchange: Middleware;
  /** Wraps `errorEnrichment`: a span per diagnosis, with its outcome code. */
  diagnosis(enrichment: Middleware): Middleware;
  /**
   * A client span for the upstream call of this exchange; writes its `traceparent` (and
   * `tracestate`) into `headers`. Returns the function that ends the span.
   */
  upstream(ctx: Context, headers: Record<string, string | string[]>): (result: UpstreamResult) => void;
}
