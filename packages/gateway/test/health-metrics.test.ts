/*
 * The operator's endpoints: liveness, readiness that follows the database both ways without a
 * restart, and the Prometheus metrics.
 */
import { openDatabase } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMETHEUS_CONTENT_TYPE } from '../src/index.ts';
import { chat, MODEL, seedWorld, send, startStack, waitFor } from './helpers.ts';
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

test('reports ready while the database answers, 503 while it is gone, and ready again once it is back', async () => {
  const url = readiness.gatewayUrl;
  const ready = await send(`${url}/readyz`);
  assert.is(ready.status, 200);
  assert.equal(JSON.parse(ready.body.toString()), { status: 'ready', database: 'up' });

  await relay.cut();
  await waitFor(async () => (await status(`${url}/readyz`)) === 503, '/readyz to answer 503');
  const down = await send(`${url}/readyz`);
  assert.equal(JSON.parse(down.body.toString()), { status: 'unavailable', database: 'down' });
  assert.is(down.headers['cache-control'], 'no-store');
  assert.is(await status(`${url}/healthz`), 200, 'liveness must not follow the database');

  await relay.restore();
  await waitFor(async () => (await status(`${url}/readyz`)) === 200, '/readyz to answer 200 again');
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
