/*
 * The admin tool through PgBouncer in transaction mode, as a fleet runs it: one server connection
 * shared by every client, the tool held to DATABASE_POOL_MAX=1 and unnamed statements (the
 * default). From an empty database to an explained 402, several tools at once, and bad settings
 * named before anything connects.
 */
import {
  findPgBouncer,
  sharedTestPostgres,
  skipSuite,
  startPgBouncer,
  type TestPgBouncer,
} from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, cliWith, emptyDatabase, runCli } from './run-cli.ts';

const test = suite('control-layer through PgBouncer');

if (!findPgBouncer()) {
  skipSuite(test, 'works through PgBouncer', 'pgbouncer is not installed (apt-get install pgbouncer)');
} else {
  buildOnce();
  const server = await sharedTestPostgres();
  // One server connection: every transaction of every client takes turns on it.
  const bouncer: TestPgBouncer = await startPgBouncer(server.url, { defaultPoolSize: 1 });
  const database = await emptyDatabase();
  const env = {
    DATABASE_URL: bouncer.through(database.url),
    DATABASE_POOL_MAX: '1',
    DATABASE_PREPARED_STATEMENTS: 'off',
  };

  test.after(async () => {
    await bouncer?.stop();
    await database?.close();
  });

  const { json } = cliWith(env, () => bouncer.log().slice(-2000));

  test('sets a database up from nothing and explains a 402 with it', async () => {
    const first = await json<{ applied: number; total: number }>(['migrate']);
    assert.ok(first.applied > 0 && first.applied === first.total, JSON.stringify(first));
    assert.is((await json(['migrate'])).applied, 0, 'a second run applies nothing');
    await json(['users', 'create', 'erin']);
    const key = await json(['keys', 'create', 'erin']);
    await json(['endpoints', 'create', 'local', 'http://127.0.0.1:9/v1']);
    await json(['models', 'create', 'chat', '--endpoint', 'local', '--model-name', 'llama']);
    await json(['groups', 'create', 'team']);
    await json(['groups', 'add-user', 'team', 'erin']);
    await json(['groups', 'grant', 'team', 'chat']);
    await json(['rules', 'deny', 'chat', 'batch']);
    // A paid model: on a free one the balance explains nothing.
    await json(['models', 'tariff', 'chat', '--input', '0.000001', '--output', '0.000002']);
    await json(['credits', 'grant', 'erin', '1']);
    assert.is((await json(['credits', 'charge', 'erin', '3.5'])).balance, '-2.50');
    const explained = await json<{ status: number; error: { code: string } }>(['explain', 'chat'], String(key.secret));
    assert.is(explained.status, 402);
    assert.is(explained.error.code, 'insufficient_credits');
    assert.is((await json<{ ok: boolean }>(['ledger', 'check'])).ok, true);
  });

  test('several tools at once share the one server connection, and every grant counts', async () => {
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        runCli(['credits', 'grant', 'erin', '1', '--source-id', `batch-${i}`, '--json'], { env }),
      ),
    );
    for (const run of runs) assert.is(run.code, 0, run.stderr);
    assert.equal(await json(['balance', 'erin']), { user: 'erin', balance: '3.50' });
  });

  test('refuses pool and prepared-statement settings it cannot use, naming them', async () => {
    for (const [name, value, message] of [
      ['DATABASE_POOL_MAX', '0', /DATABASE_POOL_MAX must be an integer from 1 to 1000, got "0"/],
      ['DATABASE_POOL_MAX', 'lots', /DATABASE_POOL_MAX must be an integer/],
      ['DATABASE_PREPARED_STATEMENTS', 'yes', /DATABASE_PREPARED_STATEMENTS must be on or off, got "yes"/],
    ] as const) {
      const run = await runCli(['users', 'list', '--json'], { env: { ...env, [name]: value } });
      assert.is(run.code, 1, `${name}=${value}: ${run.stdout}`);
      assert.is(run.stdout, '');
      assert.match(run.stderr, message);
    }
  });

  test.run();
}
