/*
 * `pnpm start` as a supervisor runs it: a signal sent to the pnpm process itself (not to the
 * gateway's node pid) drains in-flight requests and stops the gateway, leaving nothing listening.
 * pnpm signals only its direct child, so this fails whenever the script does not `exec` node.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, scriptedUpstream, send, within } from './helpers.ts';
import { bareEnv, PACKAGE_DIR, startProcess } from './process.ts';

const test = suite('pnpm start and signals');
const ROOT = path.resolve(PACKAGE_DIR, '..', '..');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
const started: ReturnType<typeof startProcess>[] = [];
/** Gateway node pids, and the gates holding upstream answers: a failed test must leave neither behind. */
const gatewayPids: number[] = [];
const releases: (() => void)[] = [];

test.after(async () => {
  for (const release of releases) release();
  for (const gateway of started) gateway.stop();
  // If the signal never reached it, the gateway outlives pnpm; stop it only if that pid is still ours.
  for (const pid of gatewayPids) {
    if (isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/main.js')) {
      process.kill(pid, 'SIGKILL');
    }
  }
  await upstream?.close();
  await t?.close();
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start `pnpm start` (the root script, or with `cwd` the gateway package's own script). */
function pnpmStart(args: string[]) {
  const env = bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0', SHUTDOWN_TIMEOUT_MS: '10000' });
  const gateway = startProcess('pnpm', args, env);
  started.push(gateway);
  return gateway;
}

for (const [where, args, signal] of [
  ['the root script', ['--dir', ROOT, 'start'], 'SIGTERM'],
  ['the root script', ['--dir', ROOT, 'start'], 'SIGINT'],
  ['the gateway package script', ['start'], 'SIGTERM'],
] as const) {
  test(`${signal} to the pnpm pid of ${where} drains in-flight requests and frees the port`, async () => {
    const arrived = gate();
    const release = gate();
    releases.push(() => release.open());
    let held = 0;
    upstream.respondWith((_req, res) => {
      held += 1;
      if (held === 2) arrived.open();
      void release.promise.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'));
    });
    const gateway = pnpmStart([...args]);
    const { url, pid } = await gateway.ready(60_000);
    gatewayPids.push(pid);
    const pnpmPid = gateway.child.pid;
    assert.ok(pnpmPid !== undefined && pnpmPid !== pid, 'the gateway runs in a process of its own, under pnpm');
    // Compiled JavaScript, no TypeScript loader.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(
      argv.some((arg) => arg.endsWith('dist/main.js')),
      argv.join(' '),
    );
    assert.not.ok(
      argv.some((arg) => arg.includes('tsx')),
      argv.join(' '),
    );

    const inFlight = [1, 2].map(() =>
      send(`${url}/ai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"model":"m"}',
      }),
    );
    for (const request of inFlight) request.catch(() => {});
    await within(arrived.promise, 'both requests to reach the upstream');

    process.kill(pnpmPid, signal);
    await gateway.log('shutting down: no new connections, draining', 10_000);
    const refused = await rejection(() => send(`${url}/healthz`));
    assert.is((refused as { code?: string }).code, 'ECONNREFUSED');

    release.open();
    for (const response of await within(Promise.all(inFlight), 'the in-flight responses')) {
      assert.is(response.status, 200);
      assert.is(response.body.toString(), '{"late":true}');
    }
    const exit = await within(gateway.exited, 'pnpm to exit');
    assert.is(exit.code, 0, `pnpm exit ${JSON.stringify(exit)}; stderr:\n${gateway.stderr()}`);
    assert.is((await gateway.log('stopped')).drained, true);
    assert.not.ok(isRunning(pid), 'the gateway process is gone');
    const after = await rejection(() => send(`${url}/healthz`));
    assert.is((after as { code?: string }).code, 'ECONNREFUSED');
  });
}

test.run();
