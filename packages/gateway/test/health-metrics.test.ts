/*
 * The operator's endpoints: liveness, readiness that follows the database both ways without a
 * restart, and the Prometheus metrics.
 */
import { openDatabase } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { AggregatorRegistry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cachedProbe, createMetrics, PROMETHEUS_CONTENT_TYPE } from '../src/index.ts';
import { chat, closedAddress, MODEL, seedWorld, send, startGateway, startStack, waitFor } from './helpers.ts';
import { tcpRelay } from './tcp-relay.ts';

const test = suite('health and metrics');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
// The readiness gateway reaches Postgres through a relay the test can cut and restore.
const direct = new URL(t.url);
const relay = await tcpRelay({ host: direct.hostname, port: Number(direct.port) });
const relayed = await openDatabase(Object.assign(new URL(t.url), { port: String(relay.port) }).toString(), {
  poolSize: 2,
  connectionTimeoutMs: 1000,
});
const readiness = await startStack(relayed.db, { readinessTimeoutMs: 1000 });
const metered = await startStack(t.db);

test.after(async () => {
  await readiness?.close();
  await metered?.close();
  await relay?.close();
  await relayed?.close();
  await t?.close();
});

const status = async (url: string) => (await send(url)).status;

const readyBody = async (url: string) => JSON.parse((await send(`${url}/readyz`)).body.toString());
const gauge = async (url: string, name: string) => {
  const text = (await send(`${url}/metrics`)).body.toString();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

test('stays ready while the database is gone, reporting it down (body and gauge), and up again once it is back', async () => {
  const url = readiness.gatewayUrl;
  const ready = await send(`${url}/readyz`);
  assert.is(ready.status, 200);
  assert.equal(JSON.parse(ready.body.toString()), { status: 'ready', database: 'up', upstream: 'up' });
  assert.is(await gauge(url, 'gateway_database_up'), 1);
  assert.is(await gauge(url, 'gateway_upstream_up'), 1);

  await relay.cut();
  await waitFor(async () => (await readyBody(url)).database === 'down', '/readyz to report the database down');
  const down = await send(`${url}/readyz`);
  assert.is(down.status, 200, 'enrichment fails open: the gateway still serves');
  assert.equal(JSON.parse(down.body.toString()), { status: 'ready', database: 'down', upstream: 'up' });
  assert.is(down.headers['cache-control'], 'no-store');
  assert.is(await gauge(url, 'gateway_database_up'), 0);
  assert.is(await status(`${url}/healthz`), 200, 'liveness must not follow the database');

  await relay.restore();
  await waitFor(async () => (await readyBody(url)).database === 'up', '/readyz to report the database up again');
  assert.is(await gauge(url, 'gateway_database_up'), 1);
});

test('reports an unreachable upstream as down without failing readiness', async () => {
  const front = await startGateway(t.db, `http://${await closedAddress()}`, { readinessTimeoutMs: 500 });
  try {
    const ready = await send(`${front.url}/readyz`);
    assert.is(ready.status, 200);
    assert.equal(JSON.parse(ready.body.toString()), { status: 'ready', database: 'up', upstream: 'down' });
    assert.is(await gauge(front.url, 'gateway_upstream_up'), 0);
    const proxied = await send(`${front.url}/ai/v1/files`);
    assert.is(proxied.status, 502);
  } finally {
    await front.close();
  }
});

test('answers 503 draining once told to drain, while still serving', async () => {
  const front = await startGateway(t.db, readiness.stubUrl);
  try {
    assert.is(await status(`${front.url}/readyz`), 200);
    front.gateway.startDraining();
    const draining = await send(`${front.url}/readyz`);
    assert.is(draining.status, 503);
    assert.equal(JSON.parse(draining.body.toString()), { status: 'draining', database: 'up', upstream: 'up' });
    assert.is(await status(`${front.url}/healthz`), 200);
  } finally {
    await front.close();
  }
});

test('probes the database at most about once a second, however often it is asked', async () => {
  let probes = 0;
  const counted = await openDatabase(t.url, {
    poolSize: 2,
    logger: { logQuery: (query) => void (query === 'select 1' && probes++) },
  });
  const front = await startGateway(counted.db, readiness.stubUrl);
  try {
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 200 }, () => status(`${front.url}/readyz`)));
    for (let i = 0; i < 50; i++) answers.push(await status(`${front.url}/readyz`));
    for (let i = 0; i < 50; i++) await send(`${front.url}/metrics`);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(answers.every((s) => s === 200));
    // Uncached, these 300 requests would be 300 probes. The bound leaves room for a loaded machine,
    // where a probe's own time and timer lateness blur the one-second boundaries.
    assert.ok(probes >= 1 && probes <= 2 * Math.ceil(seconds) + 2, `${probes} probes in ${seconds.toFixed(1)} s`);
  } finally {
    await front.close();
    await counted.close();
  }
});

test('counts enriched responses by code, pass-throughs by reason, and upstream latency', async () => {
  const post = (key: string) =>
    send(`${metered.gatewayUrl}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(chat()),
    });
  assert.is((await post(keys.outsider)).status, 403);
  assert.is((await post(keys.outsider)).status, 403);
  assert.is((await post(keys.broke)).status, 402);
  assert.is((await post(keys.working)).status, 200);
  assert.is((await post('sk-unknown')).status, 403);

  const response = await send(`${metered.gatewayUrl}/metrics`);
  assert.is(response.headers['content-type'], PROMETHEUS_CONTENT_TYPE);
  const text = response.body.toString();
  const value = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  assert.is(value('gateway_enriched_responses_total{code="model_access_denied"}'), 2);
  assert.is(value('gateway_enriched_responses_total{code="insufficient_credits"}'), 1);
  assert.is(value('gateway_enriched_responses_total{code="modality_blocked"}'), 0);
  assert.is(value('gateway_passthrough_responses_total{reason="status"}'), 1);
  assert.is(value('gateway_passthrough_responses_total{reason="unknown_key"}'), 1);
  assert.is(value('gateway_upstream_response_seconds_count{status_class="4xx"}'), 4);
  assert.is(value('gateway_upstream_response_seconds_count{status_class="2xx"}'), 1);
  assert.is(value('gateway_upstream_response_seconds_bucket{le="+Inf",status_class="2xx"}'), 1);

  // Exposition format: comments, `name{labels} number` (NaN for a gauge with no sample yet), or
  // the blank line prom-client puts between families.
  for (const line of text.trimEnd().split('\n')) {
    assert.match(line, /^(|# (HELP|TYPE) \w+ .+|\w+(\{(\w+="[^"]*",?)+\})? ([\d.e+-]+|NaN|Nan))$/);
  }
  for (const secret of [...Object.values(keys), MODEL, 'sk-unknown']) {
    assert.not.ok(text.includes(secret), `metrics must not name ${secret}`);
  }
});

test("reports the process's standard series beside the gateway's, under Prometheus's usual names", async () => {
  const text = (await send(`${metered.gatewayUrl}/metrics`)).body.toString();
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_p99_seconds',
    'process_open_fds',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    assert.match(text, new RegExp(`^${name} [\\d.e+-]+$`, 'm'), name);
  }
});

test('keeps the counts of two gateways in one process apart', async () => {
  const other = await startStack(t.db);
  try {
    await send(`${other.gatewayUrl}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.broke}` },
      body: JSON.stringify(chat()),
    });
    const count = async (url: string) => {
      const text = (await send(`${url}/metrics`)).body.toString();
      return /^gateway_enriched_responses_total\{code="insufficient_credits"\} (\d+)$/m.exec(text)?.[1];
    };
    assert.is(await count(other.gatewayUrl), '1');
    assert.is(await count(metered.gatewayUrl), '1', 'the first gateway counted one of its own, earlier');
  } finally {
    await other.close();
  }
});

test('over a cluster, an up gauge is the lowest worker answer: 0 as soon as one worker cannot reach it', async () => {
  const up = cachedProbe(() => Promise.resolve());
  const down = cachedProbe(() => Promise.reject(new Error('ECONNREFUSED')));
  // What each worker reports to the primary: its registry as JSON, the probes asked on collection.
  const worker = (database: typeof up, upstream: typeof up) =>
    createMetrics({ probes: { database, upstream } }).registry.getMetricsAsJSON();
  const combined = AggregatorRegistry.aggregate([await worker(up, up), await worker(down, up)]);
  const text = await combined.metrics();
  assert.match(text, /^gateway_database_up 0$/m);
  assert.match(text, /^gateway_upstream_up 1$/m, 'summing would have said 2');
  const counted = AggregatorRegistry.aggregate([await worker(up, up), await worker(up, up)]);
  assert.match(await counted.metrics(), /^gateway_database_up 1$/m);
});

test('gives a 503 when its source of metrics fails, rather than a partial count', async () => {
  const failing = await startStack(t.db, {
    metricsSource: () => () => Promise.reject(new Error('the cluster primary did not answer')),
  });
  try {
    const response = await send(`${failing.gatewayUrl}/metrics`);
    assert.is(response.status, 503);
    assert.match(response.body.toString(), /did not answer/);
  } finally {
    await failing.close();
  }
});

test.run();
