/*
 * `WORKERS=2` as processes: one port served by two workers, `/metrics` summed over them whichever
 * answers, SIGTERM draining every worker, a dead worker replaced (at once, then with a back-off),
 * and a primary that gives up when workers cannot start.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { restartDelayMs } from '../src/index.ts';
import { chat, closedAddress, gate, scriptedUpstream, seedWorld, send, waitFor, within } from './helpers.ts';
import { bareEnv, type LogLine, PACKAGE_DIR, startProcess } from './process.ts';

const test = suite('cluster');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
const started: ReturnType<typeof startProcess>[] = [];

test.after(async () => {
  for (const gateway of started) gateway.stop();
  await upstream?.close();
  await t?.close();
});

function startCluster(extra: Record<string, string> = {}) {
  const gateway = startProcess(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0', WORKERS: '2', ...extra }),
  );
  started.push(gateway);
  return gateway;
}

const forbidden = () =>
  upstream.respondWith((_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":{"message":"Forbidden"}}');
  });

const workerPids = (logs: LogLine[]) =>
  new Set(logs.filter((l) => l.msg === 'worker listening').map((l) => Number(l.pid)));

test('serves one port from two workers and reports the sum of their metrics from either', async () => {
  forbidden();
  const gateway = startCluster();
  const { url, pid } = await gateway.ready(90_000);
  // The workers' lines share the pipe with the primary's; on a loaded machine they may trail it.
  await waitFor(async () => workerPids(gateway.logs).size === 2, 'both workers to log that they listen', 10_000).catch(
    () => assert.unreachable(`worker lines: ${JSON.stringify(gateway.logs.map((l) => [l.pid, l.msg]))}`),
  );
  assert.not.ok(workerPids(gateway.logs).has(pid), 'the primary serves nothing itself');

  const denials = 8;
  for (let i = 0; i < denials; i++) {
    // A fresh connection each time: the primary hands connections to the workers in turn.
    const response = await send(`${url}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.broke}` },
      body: JSON.stringify(chat()),
    });
    assert.is(response.status, 402);
  }
  const servedBy = new Set(gateway.logs.filter((l) => l.msg === 'request').map((l) => Number(l.pid)));
  assert.is(servedBy.size, 2, 'both workers served requests');

  for (let scrape = 0; scrape < 4; scrape++) {
    const text = (await send(`${url}/metrics`)).body.toString();
    assert.match(
      text,
      new RegExp(`^gateway_enriched_responses_total\\{code="insufficient_credits"\\} ${denials}$`, 'm'),
    );
    assert.match(text, /^gateway_upstream_response_seconds_count\{status_class="4xx"\} 8$/m);
    // Up gauges are combined with min, not summed: 1 means every worker reaches it.
    assert.match(text, /^gateway_database_up 1$/m);
    assert.match(text, /^gateway_upstream_up 1$/m);
    // Process series are summed too: two workers' resident memory is more than one's.
    const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]);
    assert.ok(rss > 60 * 1024 * 1024, `two workers' memory, got ${rss}`);
  }

  process.kill(pid, 'SIGTERM');
  assert.equal(await within(gateway.exited, 'the cluster to exit', 30_000), { code: 0, signal: null });
});

test('drains the requests in flight on every worker on SIGTERM, then exits 0', async () => {
  const arrived: (() => void)[] = [];
  const release = gate();
  upstream.respondWith((_req, res) => {
    arrived.shift()?.();
    void release.promise.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'));
  });
  const gateway = startCluster();
  const { url, pid } = await gateway.ready(90_000);

  const reached = [gate(), gate()];
  for (const g of reached) arrived.push(g.open);
  // Two connections: round-robin puts one on each worker.
  const inFlight = [0, 1].map(() => send(`${url}/ai/v1/files`));
  for (const request of inFlight) request.catch(() => {});
  await within(Promise.all(reached.map((g) => g.promise)), 'both requests to reach the upstream');

  process.kill(pid, 'SIGTERM');
  await gateway.log('shutting down: draining every worker');
  await waitFor(
    async () => gateway.logs.filter((l) => l.msg === 'shutting down: no new connections, draining').length === 2,
    'both workers to start draining',
  );
  release.open();
  for (const response of await within(Promise.all(inFlight), 'the in-flight responses')) {
    assert.is(response.status, 200);
    assert.is(response.body.toString(), '{"late":true}');
  }
  assert.equal(await within(gateway.exited, 'the cluster to exit', 30_000), { code: 0, signal: null });
  const stopped = gateway.logs.filter((l) => l.msg === 'stopped' && l.drained === true);
  assert.is(stopped.length, 2, 'both workers drained');
});

test('replaces a dead worker at once, and the next one to die in a row after a back-off', async () => {
  forbidden();
  const gateway = startCluster();
  const { url, pid } = await gateway.ready(90_000);
  const [first] = [...workerPids(gateway.logs)];
  process.kill(Number(first), 'SIGKILL');

  const died = await gateway.log('worker died; starting a replacement');
  assert.is(died.delayMs, 0);
  assert.is(died.signal, 'SIGKILL');
  await waitFor(async () => workerPids(gateway.logs).size === 3, 'a replacement worker', 60_000);
  // Meanwhile, and after, the port keeps answering.
  assert.is((await send(`${url}/healthz`)).status, 200);

  const replacement = [...workerPids(gateway.logs)].at(-1);
  process.kill(Number(replacement), 'SIGKILL');
  await waitFor(
    async () => gateway.logs.filter((l) => l.msg === 'worker died; starting a replacement').length === 2,
    'the second death',
  );
  const second = gateway.logs.filter((l) => l.msg === 'worker died; starting a replacement')[1];
  assert.is(second?.delayMs, restartDelayMs(2));
  assert.ok(restartDelayMs(2) > 0);
  await waitFor(async () => workerPids(gateway.logs).size === 4, 'a second replacement', 60_000);
  for (let i = 0; i < 4; i++) assert.is((await send(`${url}/healthz`)).status, 200);

  process.kill(pid, 'SIGTERM');
  assert.equal(await within(gateway.exited, 'the cluster to exit', 30_000), { code: 0, signal: null });
});

test('refuses a taken port before touching the database or starting a worker', async () => {
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as { port: number }).port;
  try {
    // An unreachable database: had the primary tried to migrate first, it would fail on that.
    const gateway = startCluster({ PORT: String(port), DATABASE_URL: `postgres://u:p@${await closedAddress()}/app` });
    const exit = await within(gateway.exited, 'the primary to refuse the port', 60_000);
    assert.is(exit.code, 1);
    const fatal = gateway.logs.find((l) => l.msg === 'could not listen');
    assert.ok(fatal, gateway.stderr());
    assert.is((fatal.err as { code?: string } | undefined)?.code, 'EADDRINUSE');
    assert.not.ok(gateway.logs.some((l) => l.msg === 'could not open and migrate the database'));
    assert.not.ok(gateway.logs.some((l) => l.msg === 'starting workers'));
  } finally {
    taken.close();
  }
});

test('gives up with a non-zero exit when workers keep dying at start', async () => {
  const gateway = startProcess(process.execPath, ['--import', 'tsx', 'test/fixtures/dying-workers.ts'], bareEnv({}));
  started.push(gateway);
  const exit = await within(gateway.exited, 'the primary to give up', 90_000);
  assert.is(exit.code, 1);
  const fatal = gateway.logs.find((l) => l.msg === 'workers keep dying at start; giving up');
  assert.ok(fatal, gateway.stderr());
  assert.is(fatal.startFailures, 5);
  // Replacements waited longer each time: at once, then 250 ms, doubling.
  const delays = gateway.logs
    .filter((l) => l.msg === 'worker died; starting a replacement')
    .map((l) => Number(l.delayMs));
  assert.is(delays.length, 4, 'the fifth death in a row ends it');
  assert.is(delays[0], 0);
  assert.ok(delays.every((d, i) => i === 0 || d >= (delays[i - 1] ?? 0)) && (delays[3] ?? 0) >= 500, delays.join(', '));
});

test('refuses several workers on the embedded database, naming the fix', async () => {
  const gateway = startProcess(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    bareEnv({ WORKERS: '2', PORT: '0', DATA_DIR: '/nonexistent' }),
  );
  started.push(gateway);
  const exit = await within(gateway.exited, 'the refusal', 30_000);
  assert.is(exit.code, 2);
  assert.match(gateway.stderr(), /WORKERS above 1 needs DATABASE_URL/);
});

test('Ctrl-C (SIGINT to the whole process group) drains every worker once and exits 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PACKAGE_DIR,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0', WORKERS: '2' }),
  });
  const group = child.pid ?? 0;
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.resume();
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  try {
    await waitFor(async () => out.includes('"msg":"gateway ready"'), 'the cluster to be ready', 90_000);
    process.kill(-group, 'SIGINT');
    assert.equal(await within(exited, 'the cluster to exit', 30_000), [0, null]);
    const messages = out
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as LogLine).msg);
    assert.is(messages.filter((m) => m === 'shutting down: no new connections, draining').length, 2);
    assert.not.ok(messages.includes('second signal: exiting without waiting'));
  } finally {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

test('its workers exit when the primary is killed, leaving nothing on the port', async () => {
  const gateway = startCluster();
  const { url, pid } = await gateway.ready(90_000);
  const workers = [...workerPids(gateway.logs)];
  process.kill(pid, 'SIGKILL');
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(async () => !workers.some(alive), 'the workers to exit with their primary');
  const refused = await send(`${url}/healthz`).catch((error: { code?: string }) => error.code);
  assert.is(refused, 'ECONNREFUSED');
});

test('computes the back-off: the first replacement at once, then doubling up to 30 s', () => {
  assert.equal([1, 2, 3, 4, 5].map(restartDelayMs), [0, 250, 500, 1000, 2000]);
  assert.is(restartDelayMs(50), 30_000);
});

test.run();
