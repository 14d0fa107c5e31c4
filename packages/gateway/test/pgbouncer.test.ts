/*
 * `pnpm start` with DATABASE_URL pointing at a real PgBouncer in transaction mode, on a database
 * that has never been migrated: the primary migrates through the pooler, and two workers explain
 * denials concurrently through 2 server connections, with the default settings.
 */
import { randomUUID } from 'node:crypto';
import { openDatabase } from '@control-layer/db';
import { findPgBouncer, seedDenialWorld, sharedTestPostgres, startPgBouncer } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scriptedUpstream, send } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('gateway through PgBouncer');

if (!findPgBouncer()) {
  console.warn('pgbouncer is not installed (apt-get install pgbouncer): PgBouncer tests skipped');
  test.skip('serves through PgBouncer', () => {});
  test.run();
} else {
  const server = await sharedTestPostgres();
  const bouncer = await startPgBouncer(server.url, { defaultPoolSize: 2 });
  const name = `cl_gw_bouncer_${randomUUID().replaceAll('-', '')}`;
  const admin = await openDatabase(server.url, { poolSize: 1 });
  await admin.db.execute(sql.raw(`create database "${name}"`));
  const url = Object.assign(new URL(server.url), { pathname: `/${name}` }).toString();
  const upstream = await scriptedUpstream();
  upstream.respondWith((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{}'));
  let gateway: ReturnType<typeof startProcess> | undefined;

  test.after(async () => {
    gateway?.stop();
    await upstream?.close();
    await bouncer?.stop();
    await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`));
    await admin.close();
  });

  test('migrates an empty database and explains denials under concurrency, through the pooler', async () => {
    gateway = startProcess(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts'],
      bareEnv({ DATABASE_URL: bouncer.through(url), UPSTREAM_URL: upstream.url, PORT: '0', WORKERS: '2' }),
    );
    const { url: gatewayUrl } = await gateway.ready(90_000);
    // The migrations ran (through PgBouncer) before the workers started: the fixture needs the schema.
    const direct = await openDatabase(url, { poolSize: 2 });
    const { keys } = await seedDenialWorld(direct.db, 'm');
    await direct.close();

    const expected: [string, number, string][] = [
      [keys.outsider, 403, 'model_access_denied'],
      [keys.batch, 403, 'modality_blocked'],
      [keys.broke, 402, 'insufficient_credits'],
    ];
    const responses = await Promise.all(
      Array.from({ length: 96 }, async (_, i) => {
        const [key, status, code] = expected[i % 3] ?? ['', 0, ''];
        const response = await send(`${gatewayUrl}/ai/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: '{"model":"m","messages":[]}',
        });
        return { status, code, response };
      }),
    );
    for (const { status, code, response } of responses) {
      assert.is(response.status, status);
      assert.is(JSON.parse(response.body.toString()).error.code, code);
    }
    const metrics = (await send(`${gatewayUrl}/metrics`)).body.toString();
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="db_error"\} 0$/m);
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="timeout"\} 0$/m);
    assert.match(metrics, /^gateway_enriched_responses_total\{code="model_access_denied"\} 32$/m);
  });

  test.run();
}
