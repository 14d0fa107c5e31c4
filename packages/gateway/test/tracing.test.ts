/*
 * Traces over OTLP/HTTP to an in-process receiver: a server span per exchange (continuing the
 * client's traceparent), a client span for the upstream call whose traceparent the upstream
 * gets, and a span for the diagnosis with its outcome code. Without tracing, nothing of the SDK
 * is imported.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startTracing } from '../src/tracing.ts';
import { chat, closedAddress, MODEL, scriptedUpstream, seedWorld, send, serve, startGateway } from './helpers.ts';
import { PACKAGE_DIR } from './process.ts';

const test = suite('tracing');

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } }[];
}
const SERVER = 2;
const CLIENT = 3;

const spans: OtlpSpan[] = [];
const contentTypes: string[] = [];
const receiver = await serve(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (req.method !== 'POST' || req.url !== '/v1/traces') {
    res.writeHead(404).end();
    return;
  }
  contentTypes.push(String(req.headers['content-type']));
  const body = JSON.parse(Buffer.concat(chunks).toString()) as {
    resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
  };
  for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
upstream.respondWith((req, res) => {
  if (req.headers.authorization === `Bearer ${keys.working}`) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    return;
  }
  res
    .writeHead(403, { 'content-type': 'application/json' })
    .end('{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}');
});
const tracing = startTracing({ tracesUrl: `${receiver.url}/v1/traces`, serviceName: 'gateway-under-test' });
const front = await startGateway(t.db, upstream.url, { tracing: tracing.hooks });
const unreachable = await startGateway(t.db, `http://${await closedAddress()}`, { tracing: tracing.hooks });

test.after(async () => {
  await front?.close();
  await unreachable?.close();
  await tracing?.shutdown();
  await upstream?.close();
  await receiver?.close();
  await t?.close();
});

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.boolValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

async function tracedRequest(key: string, traceparent?: string) {
  const response = await send(`${front.url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(traceparent && { traceparent }),
    },
    body: JSON.stringify(chat(MODEL)),
  });
  await tracing.flush();
  const sentUpstream = String(upstream.last().headers.traceparent);
  const [, traceId = '', upstreamParent = ''] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(sentUpstream) ?? [];
  const trace = spans.filter((span) => span.traceId === traceId);
  return { response, traceId, upstreamParent, trace };
}

test('continues the caller trace: server span, upstream client span and the traceparent the upstream saw', async () => {
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const { response, traceId, upstreamParent, trace } = await tracedRequest(
    keys.working,
    `00-${callerTrace}-${callerSpan}-01`,
  );
  assert.is(response.status, 200);
  assert.is(traceId, callerTrace, 'the upstream got a traceparent of another trace');
  const server = trace.find((span) => span.kind === SERVER);
  const client = trace.find((span) => span.kind === CLIENT);
  assert.ok(server && client, JSON.stringify(trace.map((s) => s.name)));
  assert.is(server.parentSpanId, callerSpan);
  assert.is(server.name, 'POST /ai/v1/chat/completions');
  assert.is(attribute(server, 'http.response.status_code'), 200);
  assert.is(attribute(server, 'http.request.method'), 'POST');
  assert.is(client.parentSpanId, server.spanId);
  assert.is(attribute(client, 'http.response.status_code'), 200);
  // The upstream's parent is the client span: its traceparent names that span.
  assert.is(upstreamParent, client.spanId);
  assert.not.ok(
    trace.some((span) => span.name === 'diagnose denial'),
    'a success needs no diagnosis',
  );
  assert.ok(
    contentTypes.every((type) => type.startsWith('application/json')),
    contentTypes.join(),
  );
});

test('starts a trace of its own without a traceparent, and records the diagnosis with its outcome code', async () => {
  const { response, traceId, trace } = await tracedRequest(keys.outsider);
  assert.is(response.status, 403);
  assert.match(traceId, /^[0-9a-f]{32}$/);
  const server = trace.find((span) => span.kind === SERVER);
  const diagnosis = trace.find((span) => span.name === 'diagnose denial');
  assert.ok(server && diagnosis, JSON.stringify(trace.map((s) => s.name)));
  assert.is(server.parentSpanId || undefined, undefined);
  assert.is(diagnosis.parentSpanId, server.spanId);
  assert.is(attribute(diagnosis, 'control_layer.enrichment.code'), 'model_access_denied');
  assert.is(attribute(diagnosis, 'control_layer.enrichment.enriched'), true);
  assert.is(attribute(server, 'http.response.status_code'), 403);
  const client = trace.find((span) => span.kind === CLIENT);
  assert.ok(client, 'no span for the upstream call that answered 403');
  assert.is(client.parentSpanId, server.spanId);
  assert.is(attribute(client, 'http.response.status_code'), 403);
});

test('records a 403 left as it was with its pass-through reason', async () => {
  const { trace } = await tracedRequest('sk-unknown');
  const diagnosis = trace.find((span) => span.name === 'diagnose denial');
  assert.ok(diagnosis);
  assert.is(attribute(diagnosis, 'control_layer.enrichment.passthrough'), 'unknown_key');
  assert.is(attribute(diagnosis, 'control_layer.enrichment.enriched'), false);
});

test('ends the upstream span with the failure when the upstream cannot be reached', async () => {
  const traceId = 'aaaabbbbccccddddeeeeffff00001111';
  const response = await send(`${unreachable.url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-1111222233334444-01` },
    body: JSON.stringify(chat(MODEL)),
  });
  assert.is(response.status, 502);
  await tracing.flush();
  const client = spans.find((span) => span.traceId === traceId && span.kind === CLIENT);
  assert.ok(client);
  assert.is(attribute(client, 'error.type'), 'upstream_unavailable');
});

test('imports the OpenTelemetry SDK from tracing.ts only, and tracing.ts only on demand', () => {
  const source = path.join(PACKAGE_DIR, 'src');
  for (const file of readdirSync(source)) {
    const text = readFileSync(path.join(source, file), 'utf8');
    if (file !== 'tracing.ts') assert.not.match(text, /from '@opentelemetry\//, `${file} imports OpenTelemetry`);
    if (file !== 'main.ts') assert.not.match(text, /['"]\.\/tracing\.ts['"]/, `${file} imports tracing.ts`);
  }
  assert.match(readFileSync(path.join(source, 'main.ts'), 'utf8'), /await import\('\.\/tracing\.ts'\)/);
});

test.run();
