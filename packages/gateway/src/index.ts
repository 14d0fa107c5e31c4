export type { AccessLogger, AccessLogOptions } from './access-log.ts';
export { accessLog } from './access-log.ts';
export type { ClusterOptions } from './cluster.ts';
export {
  askPrimaryForMetrics,
  COLLECT_TIMEOUT_MS,
  clusterMetricsSource,
  isClusterWorker,
  onShutdownSignal,
  reportReady,
  restartDelayMs,
  runPrimary,
} from './cluster.ts';
export type {
  DatabaseConfig,
  GatewayConfig,
  LogFormat,
  LogLevel,
  Setting,
  SettingName,
  TracingConfig,
} from './config.ts';
export { ConfigError, DEFAULT_DATABASE_POOL_MAX, LOG_FORMATS, LOG_LEVELS, loadConfig, SETTINGS } from './config.ts';
export type { Gateway, GatewayLogger, GatewayOptions } from './create-gateway.ts';
export { AI_ROUTE, createGateway } from './create-gateway.ts';
export type { DemoCommand } from './demo-data.ts';
export { DEMO_FREE_MODEL, DEMO_KEYS, DEMO_MODEL, demoCurlCommands, seedDemoData } from './demo-data.ts';
export type { ErrorResponsesLogger } from './error-responses.ts';
export { errorResponses, onClientError } from './error-responses.ts';
export type { ReadinessOptions } from './health.ts';
export { healthz, readyz } from './health.ts';
export type { HeaderMap } from './hop-by-hop.ts';
export { connectionTokens, endToEndHeaders, HOP_BY_HOP_HEADERS, isHopByHop } from './hop-by-hop.ts';
export type { HistogramData } from './latency-histogram.ts';
export { LatencyHistogram } from './latency-histogram.ts';
export type { GatewayMetrics, MetricsEndpointOptions, MetricsOptions, MetricsSource } from './metrics.ts';
export { createMetrics, gauge, metricsEndpoint, PROMETHEUS_CONTENT_TYPE, processMetrics } from './metrics.ts';
export { MODEL_OWNER } from './model-list-shapes.ts';
export type { ModelsRouteLogger } from './models-route.ts';
export { MODELS_ROUTE, modelsRoute } from './models-route.ts';
export { openApiDocument } from './openapi-document.ts';
export { OPENAPI_DOCUMENT_PATH, OPENAPI_ROUTE, openApiRoute } from './openapi-route.ts';
export type { Probe, ProbeOptions } from './probes.ts';
export { cachedProbe, tcpReachable } from './probes.ts';
export type { ProxyLogger, ProxyOptions } from './proxy.ts';
export { proxy } from './proxy.ts';
export { REQUEST_ID_HEADER, requestId } from './request-id.ts';
export type { GatewayTracing, UpstreamResult } from './request-tracing.ts';
export { securityHeaders } from './security-headers.ts';
export { drain, listen } from './server.ts';
export { admits, routerApiKey } from './stub-admission.ts';
export type { Usage } from './stub-billing.ts';
export { chargeUsage } from './stub-billing.ts';
export { CANNED_REPLY } from './stub-canned.ts';
export { cannedUsage } from './stub-completions.ts';
export { messagesTokens } from './stub-messages.ts';
export { responsesTokens } from './stub-responses.ts';
export type { StubUpstreamOptions } from './stub-upstream.ts';
export { createStubUpstream, FORBIDDEN_BODY } from './stub-upstream.ts';
export type { UpstreamFailure, UpstreamFailureCode } from './upstream-errors.ts';
export { upstreamFailure } from './upstream-errors.ts';
export type { UpstreamPoolOptions } from './upstream-pool.ts';
export { createUpstreamPool } from './upstream-pool.ts';
