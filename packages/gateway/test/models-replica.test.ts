/*
 * GET /ai/v1/models with a read replica: the listing is read on the replica while it is within its
 * lag bound (shown by holding its replay while the primary grants a model), and from the primary
 * once the replica is gone, with no failed listing.
 */
import { addDeploymentToGroup, createReadRouter, EVERYONE_GROUP_ID, openDatabase } from '@control-layer/db';
import {
  canStartReplica,
  createTestDatabase,
  seedDenialWorld,
  sharedTestPostgres,
  skipSuite,
  startStreamingReplica,
} from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { send, startGateway, waitFor } from './helpers.ts';

const test = suite('model listing with a read replica');
const server = await sharedTestPostgres();

if (!canStartReplica(server.url)) {
  skipSuite(test, 'lists models from the replica', 'no local Postgres binaries or a remote test server');
} else {
  const replica = await startStreamingReplica(server.url);
  const t = await createTestDatabase();
  const { modelId, keys } = await seedDenialWorld(t.db, 'listed');
  const standby = await openDatabase(replica.through(t.url), { poolSize: 2, connectionTimeoutMs: 1000 });
  // A bound long enough that a held replay below stays within it.
  const reads = createReadRouter(t.db, standby.db, { maxLagMs: 60_000, probeIntervalMs: 100 });
  // Nothing listens on the upstream: the listing never goes there.
  const gateway = await startGateway(t.db, 'http://127.0.0.1:9', { readDb: reads });

  test.after(async () => {
    await gateway?.close();
    reads?.close();
    await standby?.close();
    await t?.close();
    await replica?.destroy();
  });

  const listed = async (key: string): Promise<string[]> => {
    const response = await send(`${gateway.url}/ai/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    assert.is(response.status, 200, response.body.toString());
    return (JSON.parse(response.body.toString()) as { data: { id: string }[] }).data.map((m) => m.id);
  };

  test('reads the listing on the replica within its bound, and on the primary once it is gone', async () => {
    await waitFor(
      async () => reads.state() === 'fresh' && reads.lagMs() === 0,
      'the replica to replay the seed',
      30_000,
    );
    assert.equal(await listed(keys.working), ['listed']);
    assert.equal(await listed(keys.outsider), []);

    // Held replay: the primary grants the model to Everyone, the replica has not seen it yet.
    await replica.pauseReplay();
    await addDeploymentToGroup(t.db, modelId, EVERYONE_GROUP_ID);
    assert.equal(await listed(keys.outsider), [], 'the listing came from the replica');
    await replica.resumeReplay();
    await waitFor(async () => (await listed(keys.outsider)).length === 1, 'the replica to replay the grant', 30_000);

    // The replica goes away: every listing is still answered, from the primary.
    await replica.stop();
    for (let i = 0; i < 20; i++) assert.equal(await listed(keys.outsider), ['listed']);
  });

  test.run();
}
