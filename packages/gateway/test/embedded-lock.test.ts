/*
 * One process per embedded database: a second gateway on the same data directory stops at once
 * naming the first; a lock left by a killed gateway is taken over; and a taken port is found
 * before the database is even opened.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseLockedError, openDatabase } from '@control-layer/db';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { send, within } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('embedded database lock');

const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-lock-'));
const started: ReturnType<typeof startProcess>[] = [];
const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
process.once('exit', removeDataDir);

test.after(() => {
  for (const gateway of started) gateway.stop();
  removeDataDir();
});

function startMain(env: Record<string, string>) {
  const gateway = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], bareEnv(env));
  started.push(gateway);
  return gateway;
}

test('a second gateway on the same data directory stops at once, naming the first; a killed one is taken over', async () => {
  const first = startMain({ DATA_DIR: dataDir, PORT: '0' });
  // While an empty data directory is initialised (seconds), the port already answers the probes.
  const listening = await first.log('listening; opening the database');
  const starting = await send(`${listening.url}/readyz`);
  assert.is(starting.status, 503);
  assert.equal(JSON.parse(starting.body.toString()), { status: 'starting' });
  assert.is((await send(`${listening.url}/healthz`)).status, 200);
  const { url, pid } = await first.ready(120_000);

  const second = startMain({ DATA_DIR: dataDir, PORT: '0' });
  const refused = await second.log('the embedded database is in use', 30_000);
  assert.is(refused.holderPid, pid);
  assert.match(JSON.stringify(refused.err), new RegExp(`in use by process ${pid}`));
  assert.equal(await within(second.exited, 'the second gateway to exit'), { code: 1, signal: null });

  // Any other process, a script or an admin tool, is refused the same way.
  const third = await openDatabase(`pglite:${path.join(dataDir, 'pglite')}`).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(third, DatabaseLockedError);
  assert.is((await send(`${url}/healthz`)).status, 200, 'the first gateway is untouched');

  process.kill(pid, 'SIGKILL');
  await within(first.exited, 'the first gateway to die');
  const next = startMain({ DATA_DIR: dataDir, PORT: '0' });
  const restarted = await next.ready(120_000);
  assert.is((await send(`${restarted.url}/readyz`)).status, 200);
  process.kill(restarted.pid, 'SIGTERM');
  assert.equal(await within(next.exited, 'the gateway to stop'), { code: 0, signal: null });
});

test('a taken port stops the start before the database is opened, migrated or seeded', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as { port: number }).port;
  const fresh = mkdtempSync(path.join(tmpdir(), 'gateway-port-'));
  try {
    const gateway = startMain({ DATA_DIR: fresh, PORT: String(port) });
    const fatal = await gateway.log('could not listen');
    assert.is((fatal.err as { code?: string }).code, 'EADDRINUSE');
    assert.equal(await within(gateway.exited, 'the gateway to exit'), { code: 1, signal: null });
    assert.not.ok(existsSync(path.join(fresh, 'pglite')), 'the embedded database was created');
  } finally {
    taken.close();
    rmSync(fresh, { recursive: true, force: true });
  }
});

test.run();
