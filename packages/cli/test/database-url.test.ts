/*
 * One DATABASE_URL everywhere: the tool, openDatabase and the gateway refuse the same strings with
 * the same message (naming the tool's flag when the value came from it), never make a directory
 * of a string meant as a URL, and read-only commands never create a database.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '@control-layer/db';
import { ConfigError, loadConfig } from '@control-layer/gateway';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused, buildOnce, runCli } from './run-cli.ts';

const test = suite('control-layer database URL');

buildOnce();
const scratch = mkdtempSync(path.join(tmpdir(), 'cl-url-'));
// Relative directories and the default ./.data resolve here, where the command was "typed".
const env = { INIT_CWD: scratch };

test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** What openDatabase and the gateway say about a DATABASE_URL. */
async function librarySays(url: string): Promise<{ open: string; gateway: string }> {
  const open = await openDatabase(url).then(
    async (opened) => {
      await opened.close();
      return 'opened';
    },
    (error: Error) => error.message,
  );
  let gateway = 'accepted';
  try {
    loadConfig({ DATABASE_URL: url }, scratch);
  } catch (error) {
    gateway = error instanceof ConfigError ? error.problems.join('\n') : String(error);
  }
  return { open, gateway };
}

test('the strings of the report, and variants, are refused alike by the tool, openDatabase and the gateway', async () => {
  const cases: [string, RegExp][] = [
    ['postgress://app:secret@db.example:5432/app', /has the scheme "postgress:" \(did you mean postgres:\/\/\?\)/],
    ['postgresq://app:secret@db.example/app', /has the scheme "postgresq:" \(did you mean postgres:\/\/\?\)/],
    ['/var/lib/control-layer', /has no scheme; .*a bare path is refused: write pglite:<directory>/],
    ['./.data/pglite', /has no scheme/],
    ['pglite://app:secret@db.example/app', /pglite: takes a directory, not a URL/],
    ['localhost:5432/app', /has the scheme "localhost:"/],
    ['postgres:db.example/app', /is not a valid URL/],
    ['pglite:', /pglite: needs a directory/],
  ];
  for (const [url, reason] of cases) {
    const viaEnv = await runCli(['users', 'list'], { env: { ...env, DATABASE_URL: url } });
    assertRefused(viaEnv, new RegExp(`^control-layer: DATABASE_URL ${reason.source}`));
    const viaFlag = await runCli(['--database-url', url, 'keys', 'list', 'alice', '--json'], { env });
    assertRefused(viaFlag, new RegExp(`^control-layer: --database-url ${reason.source}`));
    const { open, gateway } = await librarySays(url);
    const message = viaEnv.stderr.replace(/^control-layer: /, '').trim();
    assert.is(open, message, `openDatabase on ${url}`);
    assert.is(gateway, message, `the gateway on ${url}`);
    for (const run of [viaEnv, viaFlag]) assert.not.match(run.stderr, /secret/);
  }
  assert.equal(readdirSync(scratch), [], 'a refused string became a directory');
});

test('unset and empty: openDatabase refuses, the tool and the gateway use their documented default', async () => {
  for (const value of [undefined, '']) {
    assert.match((await librarySays(value as string)).open, /^DATABASE_URL is (not set|empty); it must be/);
  }
  assertRefused(await runCli(['--database-url', '', 'users', 'list'], { env }), /--database-url is empty/);
  // DATABASE_URL empty or unset: the embedded database of `pnpm start`, which does not exist here.
  for (const extra of [{}, { DATABASE_URL: '' }, { DATABASE_URL: '  ' }] as Record<string, string>[]) {
    assertRefused(
      await runCli(['users', 'list'], { env: { ...env, ...extra } }),
      new RegExp(`no database at ${path.join(scratch, '.data', 'pglite')}; run migrate`),
    );
  }
  assert.equal(readdirSync(scratch), []);
});

test('no command but migrate creates a database: pglite:/nonexistent/deep/dir stays nonexistent', async () => {
  const missing = ['/nonexistent/deep/dir', path.join(scratch, 'deep', 'dir'), 'relative/dir'];
  const commands = [
    ['users', 'list'],
    ['keys', 'list', 'alice'],
    ['ledger', 'check'],
    ['groups', 'list'],
    ['models', 'tariffs'],
    ['users', 'create', 'alice'],
  ];
  for (const dir of missing) {
    const runs = await Promise.all(
      commands.map((args) => runCli(['--database-url', `pglite:${dir}`, ...args, '--json'], { env })),
    );
    for (const run of runs)
      assertRefused(run, new RegExp(`^control-layer: no database at ${path.resolve(scratch, dir)}; run migrate`));
  }
  assertRefused(
    await runCli(['explain', 'chat'], { env: { ...env, DATABASE_URL: 'pglite:/nonexistent/deep/dir' }, stdin: 'sk-x' }),
    /no database at \/nonexistent\/deep\/dir; run migrate/,
  );
  assert.not.ok(existsSync('/nonexistent'));
  assert.equal(readdirSync(scratch), []);
});

test('migrate creates the embedded database it is pointed at; the other commands then use it', async () => {
  const url = 'pglite:./made/here';
  const migrated = await runCli(['--database-url', url, 'migrate', '--json'], { env });
  assert.is(migrated.code, 0, migrated.stderr);
  assert.is(JSON.parse(migrated.stdout).database, path.join(scratch, 'made', 'here'));
  const listed = await runCli(['--database-url', url, 'users', 'list', '--json'], { env });
  assert.is(listed.code, 0, listed.stderr);
  assert.equal(JSON.parse(listed.stdout), []);
});

test.run();
