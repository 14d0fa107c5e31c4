/*
 * DATABASE_REPLICA_URL with a real streaming replica of the test cluster, two workers: diagnoses
 * read the replica (shown by holding its replay while the primary changes), the replica going away
 * mid-traffic costs no explained response, and the workers return to it once it is back.
 */
import { explainDenial, openDatabase } from '@control-layer/db';
import {
  addTestCredits,
  canStartReplica,
  createTestDatabase,
  seedDenialWorld,
  sharedTestPostgres,
  skipSuite,
  startStreamingReplica,
} from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scriptedUpstream, send, waitFor } from './helpers.ts';
import { bareEnv, type LogLine, startProcess } from './process.ts';

const test = suite('gateway with a read replica');
const server = await sharedTestPostgres();

if (!canStartReplica(server.url)) {
  skipSuite(test, 'reads diagnoses from a replica', 'no local Postgres binaries or a remote test server');
} else {
  const replica = await startStreamingReplica(server.url);
  const t = await createTestDatabase();
  const { keys } = await seedDenialWorld(t.db, 'm');
  const upstream = await scriptedUpstream();
  upstream.respondWith((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{}'));
  let gateway: ReturnType<typeof startProcess> | undefined;

  test.after(async () => {
    gateway?.stop();
    await upstream?.close();
    await t?.close();
    await replica?.destroy();
  });

  const post = async (url: string, key: string) => {
    const response = await send(`${url}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: '{"model":"m","messages":[]}',
    });
    const text = response.body.toString();
    return { status: response.status, code: text.startsWith('{"error"') ? JSON.parse(text).error.code : null };
  };
  const replicaStates = (logs: LogLine[]) => logs.filter((l) => typeof l.replica === 'string').map((l) => l.replica);

  test('reads diagnoses from the replica, survives it going away mid-traffic, and returns to it', async () => {
    // Wait until the replica has replayed the seed, then start the gateway.
    const direct = await openDatabase(replica.through(t.url), { poolSize: 1, connectionTimeoutMs: 1000 });
    await waitFor(
      async () => (await direct.db.query.apiKeys.findMany().catch(() => [])).length >= 4,
      'the replica to have the keys',
    );
    await direct.close();
    gateway = startProcess(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts'],
      bareEnv({
        DATABASE_URL: t.url,
        DATABASE_REPLICA_URL: replica.through(t.url),
        // Long enough that a held replay below stays within the bound.
        DATABASE_REPLICA_MAX_LAG_MS: '60000',
        UPSTREAM_URL: upstream.url,
        PORT: '0',
        WORKERS: '2',
      }),
    );
    const { url } = await gateway.ready(90_000);
    const logs = gateway.logs;
    await waitFor(
      async () => replicaStates(logs).filter((s) => s === 'fresh').length === 2,
      'both workers on the replica',
    );
    assert.equal(await post(url, keys.broke), { status: 402, code: 'insufficient_credits' });
    const reads = async () => {
      const text = (await send(`${url}/metrics`)).body.toString();
      const count = (database: string) =>
        Number(new RegExp(`^gateway_diagnosis_reads_total\\{database="${database}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return { primary: count('primary'), replica: count('replica') };
    };
    const first = await reads();
    assert.is(first.primary + first.replica, 1);

    // Hold the replica's replay and give the broke user credits on the primary: diagnoses on the
    // replica (within the 60 s bound) still see no credits, those on the primary see them. A probe
    // that times out on a busy machine sends a few to the primary; each must match where it ran.
    await replica.pauseReplay();
    const { userId } = (await explainDenial(t.db, keys.broke, 'm')) ?? { userId: '' };
    await addTestCredits(t.db, userId, '100.00');
    const held = await reads();
    let stale = 0;
    for (let i = 0; i < 10; i++) {
      const result = await post(url, keys.broke);
      if (result.code === 'insufficient_credits') stale++;
      else assert.equal(result, { status: 403, code: null });
    }
    const after = await reads();
    assert.is(stale, after.replica - held.replica, 'every replica read saw the replica, every primary read the grant');
    assert.ok(stale > 0, 'diagnoses read the replica');
    await replica.resumeReplay();
    await waitFor(
      async () => (await post(url, keys.broke)).code === null,
      'the replica to catch up with the grant',
      60_000,
    );

    // Mid-traffic, the replica goes away: every diagnosis is still explained, from the primary.
    const expected: [string, string][] = [
      [keys.outsider, 'model_access_denied'],
      [keys.batch, 'modality_blocked'],
    ];
    let sent = 0;
    const wrong: string[] = [];
    const loop = async (worker: number) => {
      for (let i = 0; i < 60; i++) {
        const [key, code] = expected[(worker + i) % 2] ?? ['', ''];
        const result = await post(url, key);
        sent++;
        if (result.code !== code) wrong.push(`${code}: got ${result.status} ${result.code}`);
      }
    };
    const traffic = Promise.all(Array.from({ length: 16 }, (_, i) => loop(i)));
    await waitFor(async () => sent >= 200, 'traffic to be under way');
    await replica.stop();
    await traffic;
    assert.equal(wrong, [], 'no response lost its explanation when the replica went away');
    const during = await reads();
    assert.ok(during.replica > after.replica && during.primary > after.primary, JSON.stringify(during));
    await waitFor(
      async () => replicaStates(logs).filter((s) => s === 'down').length >= 2,
      'both workers to notice',
      60_000,
    );

    await replica.start();
    await waitFor(
      async () => replicaStates(logs).filter((s) => s === 'fresh').length >= 4,
      'both workers back on the replica',
      60_000,
    );
    assert.equal(await post(url, keys.outsider), { status: 403, code: 'model_access_denied' });
    const metrics = (await send(`${url}/metrics`)).body.toString();
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="db_error"\} 0$/m);
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="timeout"\} 0$/m);
  });

  test.run();
}
