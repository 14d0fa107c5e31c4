/*
 * `pnpm start` as a newcomer runs it: no database, no upstream, nothing configured. Only the
 * data directory is moved to a temp dir (and the port to a free one) to leave the repo alone.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { send, within } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('pnpm start');
const run = promisify(execFile);

const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-smoke-'));
let gateway: ReturnType<typeof startProcess> | undefined;

const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
// Also when a crash elsewhere skips the after() hook.
process.once('exit', removeDataDir);

test.after(() => {
  gateway?.stop();
  removeDataDir();
});

test('starts on an embedded database with demo data and answers a printed curl command', async () => {
  // The first start runs initdb inside PGlite: seconds, not milliseconds.
  gateway = startProcess(
    'pnpm',
    ['start'],
    bareEnv({ DATA_DIR: dataDir, PORT: '0', npm_config_update_notifier: 'false' }),
  );
  const { url, pid } = await gateway.ready(120_000);
  const ready = gateway.logs.find((line) => line.msg === 'gateway ready');
  assert.match(String(ready?.database), /^embedded PGlite at /);
  assert.match(String(ready?.upstream), /^built-in stub at http:\/\/127\.0\.0\.1:/);
  assert.is((await send(`${url}/readyz`)).status, 200);

  const printed = gateway.stderr();
  const commands = printed.split('\n').filter((line) => line.startsWith('curl '));
  assert.is(commands.length, 10, printed);
  const noCredits = printed.split('\n# ').find((block) => block.startsWith('no credits left'));
  const command = noCredits?.split('\n')[1];
  assert.ok(command?.startsWith(`curl -sS ${url}/ai/v1/chat/completions`), printed);
  const { stdout } = await run('sh', ['-c', command ?? '']);
  const { error } = JSON.parse(stdout);
  assert.is(error.code, 'insufficient_credits');
  assert.is(error.balance, '-15.00');
  const capped = printed.split('\n# ').find((block) => block.startsWith('a key over its spending cap'));
  const cappedResult = JSON.parse((await run('sh', ['-c', capped?.split('\n')[1] ?? ''])).stdout);
  assert.is(cappedResult.error.code, 'spend_cap_exceeded');
  assert.is(cappedResult.error.window_spend, '1.00');

  process.kill(pid, 'SIGTERM');
  assert.equal(await within(gateway.exited, 'pnpm start to exit'), { code: 0, signal: null });
  assert.is((await gateway.log('stopped')).drained, true);
});

test.run();
