/*
 * LOG_FORMAT: JSON lines for log shippers (the default when stdout is not a terminal), a line per
 * entry for people, with the same fields; and the first start on an embedded database says what
 * it is doing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { prettyLine } from '../src/logger.ts';
import { scriptedUpstream, within } from './helpers.ts';
import { bareEnv, PACKAGE_DIR, startProcess } from './process.ts';

const test = suite('log format');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
const started: ReturnType<typeof startProcess>[] = [];
const dataDirs: string[] = [];

test.after(async () => {
  for (const gateway of started) gateway.stop();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  await upstream?.close();
  await t?.close();
});

/** Start the gateway and collect its raw stdout until `until` appears in it. */
async function stdoutOf(env: Record<string, string>, until: string, ms = 60_000): Promise<string> {
  const gateway = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], bareEnv({ PORT: '0', ...env }));
  started.push(gateway);
  let out = '';
  await within(
    new Promise<void>((resolve, reject) => {
      gateway.child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(until)) resolve();
      });
      void gateway.exited.then(({ code }) => reject(new Error(`exited ${code}: ${gateway.stderr()}`)));
    }),
    `"${until}" on stdout`,
    ms,
  );
  gateway.child.kill('SIGTERM');
  await gateway.exited;
  return out;
}

const serverEnv = () => ({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url });

test('writes JSON lines when stdout is not a terminal and LOG_FORMAT is unset', async () => {
  const out = await stdoutOf(serverEnv(), '"msg":"gateway ready"');
  const lines = out.trim().split('\n');
  for (const line of lines) assert.ok(JSON.parse(line).msg, line);
});

test('LOG_FORMAT=pretty writes one line per entry, with the fields of its JSON form', async () => {
  const json = await stdoutOf({ ...serverEnv(), LOG_FORMAT: 'json' }, '"msg":"gateway ready"');
  const pretty = await stdoutOf({ ...serverEnv(), LOG_FORMAT: 'pretty' }, 'gateway ready');
  const jsonReady = json.split('\n').find((line) => line.includes('"msg":"gateway ready"')) ?? '';
  const prettyReady = pretty.split('\n').find((line) => line.includes('gateway ready')) ?? '';
  assert.match(prettyReady, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}gateway ready /);
  assert.not.match(pretty, /^\{/m);
  const { time: _time, level: _level, msg: _msg, ...fields } = JSON.parse(jsonReady) as Record<string, unknown>;
  for (const field of Object.keys(fields)) assert.match(prettyReady, ` ${field}=`, `${field} missing`);
});

// util-linux `script` gives the gateway a terminal as stdout, as a person running it has.
const hasScript = spawnSync('script', ['--version']).status === 0;
test('writes pretty lines, coloured, when stdout is a terminal and LOG_FORMAT is unset', async () => {
  if (!hasScript) {
    console.log('  (skipped: util-linux `script` is not installed)');
    return;
  }
  const command = `${JSON.stringify(process.execPath)} --import tsx src/main.ts`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: PACKAGE_DIR,
    env: bareEnv({ ...serverEnv(), PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  try {
    await within(
      new Promise<void>((resolve) =>
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('gateway ready')) resolve();
        }),
      ),
      'gateway ready on the terminal',
      60_000,
    );
  } finally {
    // The terminal's session ends with `script`, and the gateway with it (SIGHUP).
    child.kill('SIGTERM');
  }
  const esc = String.fromCharCode(27);
  assert.ok(out.includes(`${esc}[32mINFO ${esc}[0m gateway ready pid=`), JSON.stringify(out));
  assert.match(out, /\d\d:\d\d:\d\d\.\d{3} \S+INFO/);
  assert.not.match(out, /"msg":/);
});

test('formats a pino line: level, message, then every field as key=value', () => {
  const line = prettyLine(
    JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      pid: 7,
      msg: 'database not reachable',
      err: { code: 'ECONNREFUSED' },
      upstream: 'http://r',
      note: 'two words',
    }),
  );
  assert.is(
    line,
    '03:04:05.006 WARN  database not reachable pid=7 err={"code":"ECONNREFUSED"} upstream=http://r note="two words"\n',
  );
  assert.is(prettyLine('not json'), 'not json');
});

test('says on the first start on an embedded database that it is created once, and not again', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-first-start-'));
  dataDirs.push(dataDir);
  const env = { DATA_DIR: dataDir, UPSTREAM_URL: upstream.url, LOG_FORMAT: 'json' };
  const first = await stdoutOf(env, '"msg":"gateway ready"', 180_000);
  const messages = first
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).msg as string);
  const creating = messages.findIndex((msg) => msg.startsWith('first start: creating the embedded database'));
  assert.ok(creating >= 0, messages.join(' | '));
  assert.ok(creating < messages.indexOf('gateway ready'));
  assert.match(messages[creating] ?? '', /only this once/);
  const second = await stdoutOf(env, '"msg":"gateway ready"', 180_000);
  assert.not.match(second, /first start/);
});

test.run();
