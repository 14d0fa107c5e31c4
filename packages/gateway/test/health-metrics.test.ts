/*
 * The operator's endpoints: liveness, readiness that follows the database both ways without a
 * restart, and the Prometheus metrics.
 */
import { openDatabase } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Counter, PROMETHEUS_CONTENT_TYPE } from '../src/index.ts';
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
  assert.is(value('gateway_upstream_response_seconds_bucket{status_class="2xx",le="+Inf"}'), 1);

  // Exposition format: comments, or `name{labels} number`.
  for (const line of text.trimEnd().split('\n')) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="[^"]*",?)+\})? [\d.e+-]+)$/);
  }
  for (const secret of [...Object.values(keys), MODEL, 'sk-unknown']) {
    assert.not.ok(text.includes(secret), `metrics must not name ${secret}`);
  }
});

test('folds label values beyond a bound into one series, so a bug cannot explode cardinality', () => {
  const counter = new Counter('c_total', 'help', 'code');
  for (let i = 0; i < 100; i++) counter.inc(`value-${i}`);
  counter.inc('value-0');
  assert.is(counter.get('value-0'), 2);
  assert.is(counter.get('other'), 100 - 32);
  assert.is(
    counter
      .render()
      .split('\n')
      .filter((l) => l.startsWith('c_total{')).length,
    33,
  );
});

test('escapes label values', () => {
  const counter = new Counter('c_total', 'help', 'reason');
  counter.inc('a"b\\c\nd');
  assert.ok(counter.render().includes('c_total{reason="a\\"b\\\\c\\nd"} 1'));
});

test.run();
