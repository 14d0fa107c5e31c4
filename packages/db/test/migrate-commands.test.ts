/*
 * `pnpm db:migrate` and `drizzle-kit migrate` as processes: one reading of DATABASE_URL, a clear
 * message for a bad one, never a password printed, and a count of what was applied.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LOCK_FILE, MIGRATIONS_FOLDER, openDatabase, rowsOf } from '../src/index.ts';
import { createTestDatabase } from '../src/testing/index.ts';

const test = suite('migration commands');

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MIGRATIONS = (
  JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string>, cwd = ROOT): Promise<Run> {
  const child = spawn(args[0] ?? '', args.slice(1), {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  // Bounded: a command that hangs is killed and fails the test.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const dbMigrate = (env: Record<string, string>) =>
  run([process.execPath, '--import', 'tsx', path.join(ROOT, 'scripts/db-migrate.ts')], env);
const drizzleKitMigrate = (env: Record<string, string>) =>
  run([path.join(ROOT, 'node_modules/.bin/drizzle-kit'), 'migrate'], env);

test('db:migrate refuses a value that is not a database URL, creating nothing', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'cl-migrate-'));
  try {
    // INIT_CWD is where pnpm was run: where a relative directory would have been created.
    const bad = await dbMigrate({ DATABASE_URL: 'localhost:54329/cl', INIT_CWD: cwd });
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /DATABASE_URL has the scheme "localhost:"; it must be a postgres:\/\//);
    assert.not.ok(existsSync(path.join(cwd, 'localhost:54329')), 'a directory was created');
    const unset = await dbMigrate({});
    assert.is(unset.code, 2);
    assert.match(unset.stderr, /DATABASE_URL is not set/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('db:migrate says how many migrations it applied, then that none was left', async () => {
  const t = await createTestDatabase();
  // The template is migrated already: start from an empty database instead.
  await t.db.execute('drop schema drizzle cascade; drop schema public cascade; create schema public');
  try {
    const first = await dbMigrate({ DATABASE_URL: t.url });
    assert.is(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`applied ${MIGRATIONS} migrations, ${MIGRATIONS} in total`));
    const second = await dbMigrate({ DATABASE_URL: t.url });
    assert.is(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`no migration to apply, ${MIGRATIONS} in total`));
  } finally {
    await t.close();
  }
});

test('db:migrate names an unreachable database by its cause, never printing a password', async () => {
  const result = await dbMigrate({ DATABASE_URL: 'postgres://app:userinfo-pw@127.0.0.2:1/app?password=query-pw' });
  assert.is(result.code, 1);
  assert.match(
    result.stderr,
    /could not migrate postgres:\/\/app:\*\*\*@127\.0\.0\.2:1\/app\?password=\*\*\*: .*ECONNREFUSED/,
  );
  for (const secret of ['userinfo-pw', 'query-pw']) assert.not.ok((result.stdout + result.stderr).includes(secret));
});

test('db:migrate migrates an embedded database, and is refused while another process holds it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cl-pglite-'));
  try {
    const first = await dbMigrate({ DATABASE_URL: `pglite:${dir}` });
    assert.is(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`applied ${MIGRATIONS} migrations`));
    const held = await openDatabase(`pglite:${dir}`);
    try {
      const refused = await dbMigrate({ DATABASE_URL: `pglite:${dir}` });
      assert.is(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`in use by process ${process.pid}`));
    } finally {
      await held.close();
    }
    assert.not.ok(existsSync(path.join(dir, LOCK_FILE)), 'close() let go of the lock');
    const again = await dbMigrate({ DATABASE_URL: `pglite:${dir}` });
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, /no migration to apply/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('drizzle-kit migrate says what is wrong with DATABASE_URL instead of exiting in silence', async () => {
  const unset = await drizzleKitMigrate({});
  assert.is(unset.code, 2);
  assert.match(unset.stderr, /drizzle-kit migrate: DATABASE_URL is not set/);
  const malformed = await drizzleKitMigrate({ DATABASE_URL: 'localhost:54329/cl' });
  assert.is(malformed.code, 2);
  assert.match(malformed.stderr, /DATABASE_URL has the scheme "localhost:"/);
  const unreachable = await drizzleKitMigrate({ DATABASE_URL: 'postgres://app:userinfo-pw@127.0.0.2:1/app' });
  assert.is(unreachable.code, 1);
  assert.match(unreachable.stderr, /drizzle-kit migrate failed against postgres:\/\/app:\*\*\*@127\.0\.0\.2:1\/app/);
  assert.not.ok((unreachable.stdout + unreachable.stderr).includes('userinfo-pw'));
});

test('drizzle-kit migrate applies the same migrations to a valid DATABASE_URL', async () => {
  const t = await createTestDatabase();
  await t.db.execute('drop schema drizzle cascade; drop schema public cascade; create schema public');
  try {
    const result = await drizzleKitMigrate({ DATABASE_URL: t.url });
    assert.is(result.code, 0, result.stderr);
    const [row] = rowsOf<{ n: number }>(
      await t.db.execute('select count(*)::int as n from drizzle.__drizzle_migrations'),
    );
    assert.is(row?.n, MIGRATIONS);
  } finally {
    await t.close();
  }
});

test.run();
