import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DatabaseMissingError,
  DatabaseUrlError,
  describeError,
  explainDenial,
  maskUrl,
  openDatabase,
  parseDatabaseUrl,
  stackFrames,
} from '../src/index.ts';
import { rejection, withTestDatabase } from '../src/testing/index.ts';

const test = suite('database URL and error descriptions');

test('read postgres URLs and pglite directories, and nothing else', () => {
  const accepted: [string, ReturnType<typeof parseDatabaseUrl>][] = [
    ['postgres://u:p@db:5432/app', { kind: 'postgres', url: 'postgres://u:p@db:5432/app' }],
    ['  postgresql://db/app?sslmode=require ', { kind: 'postgres', url: 'postgresql://db/app?sslmode=require' }],
    ['POSTGRES://db/app', { kind: 'postgres', url: 'POSTGRES://db/app' }],
    ['pglite:./.data/pglite', { kind: 'embedded', dataDir: '/repo/.data/pglite' }],
    ['pglite:/var/lib/cl', { kind: 'embedded', dataDir: '/var/lib/cl' }],
  ];
  for (const [value, expected] of accepted) assert.equal(parseDatabaseUrl(value, '/repo'), expected, value);

  const refused: [string, RegExp][] = [
    [
      'localhost:54329/cl',
      /scheme "localhost:"; it must be a postgres:\/\/ or postgresql:\/\/ URL, or pglite:<directory>/,
    ],
    ['./.data/pglite', /has no scheme/],
    ['mysql://u:hunter2@db/app', /scheme "mysql:"; it must/],
    ['postgres:db/app', /not a valid URL/],
    ['postgres://u:p@db:notaport/app', /not a valid URL/],
    ['pglite:', /needs a directory/],
    ['', /is empty/],
    ['   ', /is empty/],
    ['postgress://app:hunter2@db/app', /scheme "postgress:" \(did you mean postgres:\/\/\?\)/],
    ['postgre://app:hunter2@db/app', /scheme "postgre:"/],
    ['/var/lib/hunter2', /has no scheme.*a bare path is refused: write pglite:<directory>/],
    ['hunter2/data', /has no scheme/],
    ['pglite://hunter2@db/app', /pglite: takes a directory, not a URL/],
    ['pglite:postgres://u:hunter2@db/app', /pglite: takes a directory, not a URL/],
  ];
  for (const [value, pattern] of refused) {
    let error: unknown;
    try {
      parseDatabaseUrl(value, '/repo');
    } catch (e) {
      error = e;
    }
    assert.instance(error, DatabaseUrlError, value);
    assert.match((error as Error).message, pattern);
    assert.not.match((error as Error).message, /hunter2|notaport/);
  }
  for (const unset of [undefined, null as unknown as undefined]) {
    assert.throws(() => parseDatabaseUrl(unset), /DATABASE_URL is not set; it must be a postgres:\/\/ or/);
  }
  assert.throws(() => parseDatabaseUrl('mysql://x', '/', { name: '--database-url' }), /^--database-url has the scheme/);
});

/** Open, expecting a refusal; what was thrown. */
async function refusal(url: Parameters<typeof openDatabase>[0], options: Parameters<typeof openDatabase>[1] = {}) {
  return openDatabase(url, options).then(
    async (opened) => {
      await opened.close();
      return null;
    },
    (error: unknown) => error,
  );
}

test('openDatabase reads its string with the same parser and creates nothing from a refused one', async () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'cl-open-'));
  const cwd = process.cwd();
  process.chdir(scratch);
  try {
    const refused: [string | undefined, RegExp][] = [
      ['postgress://app:hunter2@127.0.0.1:1/app', /DATABASE_URL has the scheme "postgress:"/],
      [undefined, /DATABASE_URL is not set/],
      ['', /DATABASE_URL is empty/],
      ['./.data/pglite', /a bare path is refused/],
      [path.join(scratch, 'bare'), /a bare path is refused/],
      ['pglite://app:hunter2@db/app', /not a URL/],
    ];
    for (const [url, pattern] of refused) {
      const error = await refusal(url);
      assert.instance(error, DatabaseUrlError, String(url));
      assert.match((error as Error).message, pattern);
      assert.not.match((error as Error).message, /hunter2/);
    }
    assert.equal(readdirSync(scratch), [], 'a refused string created a directory');
  } finally {
    process.chdir(cwd);
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('openDatabase with create: false refuses a missing embedded database and creates nothing', async () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'cl-open-'));
  try {
    for (const dir of ['/nonexistent/deep/dir', path.join(scratch, 'deep', 'dir'), scratch]) {
      const error = await refusal(`pglite:${dir}`, { create: false });
      assert.instance(error, DatabaseMissingError, dir);
      assert.is((error as Error).message, `no database at ${dir}; run migrate to create it`);
    }
    assert.not.ok(existsSync('/nonexistent'));
    assert.equal(readdirSync(scratch), []);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('mask the password of the user info and secret query parameters, by parsing', () => {
  const cases: [string, string][] = [
    ['postgres://app:s3cret@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['postgres://db/app?password=s3cret-pw&sslmode=require', 'postgres://db/app?password=***&sslmode=require'],
    ['postgres://db/app?sslmode=verify-full&SSLPASSWORD=k3y', 'postgres://db/app?sslmode=verify-full&SSLPASSWORD=***'],
    ['postgres://a%40b:p%2Fw%40x@db/app', 'postgres://a%40b:***@db/app'],
    ['postgres://app@db/app', 'postgres://app@db/app'],
    ['postgres://app:pw@db/app?password=a&password=b', 'postgres://app:***@db/app?password=***'],
    ['pglite:./.data/pglite', 'pglite:./.data/pglite'],
    ['not a url with pw', '[unparseable URL]'],
  ];
  for (const [value, expected] of cases) assert.is(maskUrl(value), expected, value);
});

test('describe a failed query by its root cause, never with its SQL or parameters', async () => {
  const down = await openDatabase('postgres://app:s3cret@127.0.0.1:1/none?password=s3cret-pw', {
    connectionTimeoutMs: 500,
  });
  try {
    const key = `sk-${'A'.repeat(43)}`;
    const error = await rejection(() => explainDenial(down.db, key, 'secret-model-name'));
    const description = describeError(error);
    assert.is(description.code, 'ECONNREFUSED');
    assert.match(description.message, /ECONNREFUSED/);
    const printed = JSON.stringify(description) + (stackFrames(error) ?? '');
    for (const secret of [key, 'secret-model-name', 's3cret', 'secret_hash', 'select']) {
      assert.not.ok(printed.includes(secret), `${secret} in ${printed}`);
    }
  } finally {
    await down.close();
  }
});

test('blank out parameters that Postgres quotes back in its message', () =>
  withTestDatabase(async (db) => {
    const value = 'not-a-uuid-but-a-secret';
    const error = await rejection(() => db.execute(sql`select ${value}::uuid`));
    const description = describeError(error);
    assert.is(description.code, '22P02');
    assert.match(description.message, /invalid input syntax for type uuid/);
    assert.not.ok(description.message.includes(value), description.message);
    const digest = 'ab'.repeat(32);
    assert.is(
      describeError(new Error(`bad ${digest} and sk-abcdefghijklmnop`)).message,
      'bad [redacted] and [redacted]',
    );
    assert.equal(describeError('plain'), { message: 'plain' });
  }));

test.run();
