/*
 * `pnpm start` with DATABASE_URL pointing at a real PgBouncer in transaction mode, on a database
 * that has never been migrated: the primary migrates through the pooler, and two workers explain
 * denials concurrently through 2 server connections, with the default settings.
 */
import { openDatabase } from '@control-layer/db';
import {
  createEmptyTestDatabase,
  findPgBouncer,
  seedDenialWorld,
  sharedTestPostgres,
  skipSuite,
  startPgBouncer,
} from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scriptedUpstream, send } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('gateway through PgBouncer');

if (!findPgBouncer()) {
  skipSuite(test, 'serves through PgBouncer', 'pgbouncer is not installed (apt-get install pgbouncer)');
} else {
  const server = await sharedTestPostgres();
  const bouncer = await startPgBouncer(server.url, { defaultPoolSize: 2 });
  const empty = await createEmptyTestDatabase({ server, prefix: 'cl_gw_bouncer' });
  const { url } = empty;
  const upstream = await scriptedUpstream();
  upstream.respondWith((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{}'));
  let gateway: ReturnType<typeof startProcess> | undefined;

  test.after(async () => {
    gateway?.stop();
    await upstream?.close();
    await bouncer?.stop();
    await empty.close();
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
    const post = async (key: string) => {
      const response = await send(`${gatewayUrl}/ai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: '{"model":"m","messages":[]}',
      });
      const text = response.body.toString();
      return { status: response.status, code: text.startsWith('{"error"') ? JSON.parse(text).error.code : null };
    };
    // One by one first: each worker opens its pooled connections before the burst.
    for (let i = 0; i < 6; i++) {
      const [key, status, code] = expected[i % 3] ?? ['', 0, ''];
      assert.equal(await post(key), { status, code });
    }
    const responses = await Promise.all(
      Array.from({ length: 96 }, async (_, i) => {
        const [key, status, code] = expected[i % 3] ?? ['', 0, ''];
        return { expected: { status, code }, got: await post(key) };
      }),
    );
    const metrics = (await send(`${gatewayUrl}/metrics`)).body.toString();
    const passThrough = metrics.split('\n').filter((l) => l.startsWith('gateway_passthrough_responses_total'));
    // Named in every failure: a diagnosis that failed (db_error) or missed the enrichment deadline
    // (timeout) shows there.
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="db_error"\} 0$/m, passThrough.join('; '));
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="timeout"\} 0$/m, passThrough.join('; '));
    for (const { expected: want, got } of responses) assert.equal(got, want, passThrough.join('; '));
  });

  test.run();
}
