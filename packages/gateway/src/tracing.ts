/**
 * OpenTelemetry tracing of the gateway, exported over OTLP/HTTP (JSON). main.ts imports this file
 * only when OTEL_EXPORTER_OTLP_ENDPOINT is set, so without it none of the SDK is loaded.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Context as TraceContext,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Context, Middleware, Next } from 'koa';
import type { TracingConfig } from './config.ts';
import { MODELS_ROUTE } from './models-route.ts';
import type { GatewayTracing, UpstreamResult } from './request-tracing.ts';

export interface StartedTracing {
  hooks: GatewayTracing;
  /** Export every span ended so far. */
  flush(): Promise<void>;
  /** Export what is left and stop; call once the server has drained. */
  shutdown(): Promise<void>;
}

const KNOWN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', MODELS_ROUTE]);

/**
 * A span name of bounded cardinality: the path for the gateway's routes and the API under
 * `/ai/v1` (while it is not a 404), else the method alone, so random paths make no new names.
 */
function spanName(ctx: Context): string {
  const known = KNOWN_PATHS.has(ctx.path) || (ctx.path.startsWith('/ai/v1') && ctx.status !== 404);
  return known ? `${ctx.method} ${ctx.path}` : ctx.method;
}

/**
 * Start the tracer: spans go in batches to `tracesUrl`. The hooks create a server span per
 * exchange, a client span for the upstream call (its `traceparent` sent upstream) and a span for
 * each diagnosis, all in the exchange's trace.
 *
 * @example
 * const tracing = startTracing({ tracesUrl: 'http://collector:4318/v1/traces', serviceName: 'gateway' });
 * createGateway({ db, upstreamUrl, tracing: tracing.hooks });
 */
export function startTracing(config: TracingConfig): StartedTracing {
  const processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.tracesUrl }) });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('@control-layer/gateway');
  const propagator = new W3CTraceContextPropagator();
  // The exchange's span, by its state object (errorEnrichment swaps `ctx.req` for a capturing one).
  const exchanges = new WeakMap<object, { span: Span; context: TraceContext }>();
  const parentOf = (ctx: Context): TraceContext => exchanges.get(ctx.state)?.context ?? ROOT_CONTEXT;

  const exchange: Middleware = async function traceExchange(ctx: Context, next: Next): Promise<void> {
    const incoming = propagator.extract(ROOT_CONTEXT, ctx.req.headers as IncomingHttpHeaders, defaultTextMapGetter);
    const span = tracer.startSpan(
      ctx.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': ctx.method, 'url.path': ctx.path },
      },
      incoming,
    );
    exchanges.set(ctx.state, { span, context: trace.setSpan(incoming, span) });
    // Ended when the response is done, also when a success was piped past Koa.
    ctx.res.once('close', () => {
      span.updateName(spanName(ctx));
      span.setAttribute('http.response.status_code', ctx.res.statusCode);
      if (ctx.state.requestId) span.setAttribute('control_layer.request_id', ctx.state.requestId);
      if (!ctx.res.writableFinished) span.setAttribute('control_layer.client_aborted', true);
      if (ctx.res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    await next();
  };

  const diagnosis = (enrichment: Middleware): Middleware =>
    async function traceDiagnosis(ctx: Context, next: Next): Promise<void> {
      let downstreamDone: number | undefined;
      try {
        await enrichment(ctx, async () => {
          try {
            await next();
          } finally {
            downstreamDone = Date.now();
          }
        });
      } finally {
        const outcome = ctx.state.enrichment;
        // A response that was not a 403 needed no diagnosis.
        if (
          downstreamDone !== undefined &&
          outcome &&
          !('passthrough' in outcome && outcome.passthrough === 'status')
        ) {
          const span = tracer.startSpan(
            'diagnose denial',
            {
              startTime: downstreamDone,
              attributes:
                'enriched' in outcome
                  ? { 'control_layer.enrichment.code': outcome.enriched, 'control_layer.enrichment.enriched': true }
                  : {
                      'control_layer.enrichment.passthrough': outcome.passthrough,
                      'control_layer.enrichment.enriched': false,
                    },
            },
            parentOf(ctx),
          );
          span.end();
        }
      }
    };

  const upstream = (ctx: Context, headers: Record<string, string | string[]>) => {
    const span = tracer.startSpan(
      `${ctx.method} upstream`,
      { kind: SpanKind.CLIENT, attributes: { 'http.request.method': ctx.method } },
      parentOf(ctx),
    );
    // Ours replace the client's: the upstream's parent is this call, in the same trace.
    delete headers.traceparent;
    delete headers.tracestate;
    propagator.inject(trace.setSpan(parentOf(ctx), span), headers, defaultTextMapSetter);
    return (result: UpstreamResult): void => {
      if ('status' in result) {
        span.setAttribute('http.response.status_code', result.status);
        if (result.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      } else {
        span.setAttribute('error.type', result.error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
  };

  return {
    hooks: { exchange, diagnosis, upstream },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
