/*
 * `/metrics` of a `WORKERS=2` cluster while a worker is being replaced: the scrape answers with
 * the workers that can answer, and says how many that was.
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scriptedUpstream, send, waitFor, within } from './helpers.ts';
import { bareEnv, type LogLine, startProcess } from './process.ts';

const test = suite('cluster metrics');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
const gateway = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0', WORKERS: '2' }),
);

test.after(async () => {
  gateway.stop();
  await upstream?.close();
  await t?.close();
});

const workerPids = (logs: LogLine[]) => [
  ...new Set(logs.filter((l) => l.msg === 'worker listening').map((l) => Number(l.pid))),
];

/** A scrape's status and its two worker-count gauges. */
async function scrape(url: string) {
  const response = await send(`${url}/metrics`);
  const text = response.body.toString();
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    status: response.status,
    asked: value('gateway_cluster_workers_asked'),
    answered: value('gateway_cluster_workers_answered'),
    text,
  };
}

test('answers a scrape 200 right after a worker is killed, counting the workers that answered', async () => {
  const { url, pid } = await gateway.ready(90_000);
  await waitFor(async () => workerPids(gateway.logs).length === 2, 'both workers to listen', 10_000);
  const steady = await scrape(url);
  assert.is(steady.status, 200);
  assert.equal([steady.answered, steady.asked], [2, 2]);

  const [victim] = workerPids(gateway.logs);
  process.kill(Number(victim), 'SIGKILL');
  // At once, and while the replacement starts (a scrape may land on it: it answers from the others).
  for (let i = 0; i < 4; i++) {
    const during = await scrape(url);
    assert.is(during.status, 200, during.text);
    // The survivor answers; the replacement may already answer too, once it is up.
    assert.ok(during.asked === 1 || during.asked === 2, during.text);
    assert.ok(during.answered >= 1 && during.answered <= during.asked, during.text);
    assert.match(during.text, /^gateway_database_up 1$/m);
  }

  await waitFor(async () => workerPids(gateway.logs).length === 3, 'the replacement to listen', 60_000);
  const after = await scrape(url);
  assert.equal([after.status, after.answered, after.asked], [200, 2, 2]);

  process.kill(pid, 'SIGTERM');
  assert.equal(await within(gateway.exited, 'the cluster to exit', 30_000), { code: 0, signal: null });
});

test.run();
