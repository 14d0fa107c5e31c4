/*
 * Many replicas, one truth: two gateway processes (WORKERS=2 each) on one database, one reading
 * its diagnoses from a streaming replica and the other reaching Postgres through PgBouncer in
 * transaction mode (when the binaries are here), while grants, deny rules and credits change every
 * few tens of milliseconds. Every response is checked against the state of the database at the
 * time: the verdict must be one the database held between (request sent − bound) and (response
 * received), where the bound is the coalescing window for the primary, plus the replica's lag
 * bound and probe interval for the replica. Loopback only; bounded by time and count.
 */
import { performance } from 'node:perf_hooks';
import type { ApiKeyPurpose } from '@control-layer/db';
import {
  addDeploymentToGroup,
  addUserToGroup,
  createDeployedModel,
  createGroup,
  createInferenceEndpoint,
  NIL_UUID,
} from '@control-layer/db';
import {
  addTestCredits,
  canStartReplica,
  createTestApiKey,
  createTestDatabase,
  createTestUser,
  findPgBouncer,
  sharedTestPostgres,
  startPgBouncer,
  startStreamingReplica,
} from '@control-layer/db/testing';
import { DEFAULT_COALESCE_WINDOW_MS } from '@control-layer/enrichment';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { send, serve } from '../test/helpers.ts';
import { bareEnv, startProcess } from '../test/process.ts';
import {
  applyChange,
  expectedCode,
  nextState,
  type StateChange,
  type World,
  type WorldState,
} from './state-changes.ts';

const test = suite('many replicas, one truth');

const DURATION_MS = 45_000;
const MAX_REQUESTS = 40_000;
const CLIENTS = 16;
const CHANGE_EVERY_MS = 40;
const MODEL = 'soak-model';
const REPLICA_MAX_LAG_MS = 1000;
/** The read router's probe interval (its default). */
const PROBE_INTERVAL_MS = 200;

const server = await sharedTestPostgres();
const t = await createTestDatabase({ poolSize: 4 });
const replica = canStartReplica(server.url) ? await startStreamingReplica(server.url) : null;
const bouncer = findPgBouncer() ? await startPgBouncer(server.url, { defaultPoolSize: 4 }) : null;
const upstream = await serve((_req, res) => {
  _req.resume();
  res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":{"message":"Forbidden"}}');
});

// The world: one model granted to one group; three users, each with a realtime key, the first
// also with a batch key; all members with 5 credits and no rule at first.
const admin = await createTestUser(t.db, { isAdmin: true });
const endpoint = await createInferenceEndpoint(t.db, { name: 'soak-endpoint', url: 'http://x', createdBy: admin.id });
const deployment = await createDeployedModel(t.db, {
  modelName: 'soak',
  alias: MODEL,
  hostedOn: endpoint.id,
  createdBy: admin.id,
});
const group = await createGroup(t.db, { name: 'soak-group', description: 'soak', createdBy: NIL_UUID });
await addDeploymentToGroup(t.db, deployment.id, group.id);
const world: World = { groupId: group.id, deploymentId: deployment.id };
const users = await Promise.all([0, 1, 2].map(() => createTestUser(t.db)));
for (const user of users) {
  await addUserToGroup(t.db, user.id, group.id);
  await addTestCredits(t.db, user.id, '5');
}
const [first] = users;
if (!first) throw new Error('no users');
const keys: { secret: string; userId: string; purpose: ApiKeyPurpose }[] = [];
for (const user of users)
  keys.push({
    secret: (await createTestApiKey(t.db, user.id, 'realtime')).secret,
    userId: user.id,
    purpose: 'realtime',
  });
keys.push({ secret: (await createTestApiKey(t.db, first.id, 'batch')).secret, userId: first.id, purpose: 'batch' });

let state: WorldState = {
  member: Object.fromEntries(users.map((u) => [u.id, true])),
  deny: { platform: false, realtime: false, batch: false, playground: false },
  balance: Object.fromEntries(users.map((u) => [u.id, 5])),
};

/** States in order: each was (possibly) visible from `from` until the next change returned. */
const history: { state: WorldState; from: number; until: number }[] = [
  { state, from: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY },
];

// At info: the soak waits for the ready line and the replica's state lines.
const gatewayEnv = (extra: Record<string, string>) =>
  bareEnv({ UPSTREAM_URL: upstream.url, PORT: '0', WORKERS: '2', LOG_LEVEL: 'info', ...extra });
const direct = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  gatewayEnv({
    DATABASE_URL: t.url,
    ...(replica && {
      DATABASE_REPLICA_URL: replica.through(t.url),
      DATABASE_REPLICA_MAX_LAG_MS: String(REPLICA_MAX_LAG_MS),
    }),
  }),
);
const pooled = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  gatewayEnv({ DATABASE_URL: bouncer ? bouncer.through(t.url) : t.url }),
);

test.after(async () => {
  direct.stop();
  pooled.stop();
  await upstream?.close();
  await t?.close();
  await bouncer?.stop();
  await replica?.destroy();
});

function randomChange(current: WorldState): StateChange {
  const pick = Math.random();
  const user = users[Math.floor(Math.random() * users.length)] ?? users[0];
  if (!user) throw new Error('no users');
  if (pick < 0.35) return { kind: 'membership', userId: user.id, member: !current.member[user.id] };
  if (pick < 0.6) {
    const purpose: ApiKeyPurpose = Math.random() < 0.5 ? 'realtime' : 'batch';
    return { kind: 'rule', purpose, deny: !current.deny[purpose] };
  }
  const positive = (current.balance[user.id] ?? 0) > 0;
  return { kind: 'credits', userId: user.id, type: positive ? 'usage' : 'admin_grant', amount: 10 };
}

interface Observation {
  gateway: 'replica' | 'pgbouncer';
  key: (typeof keys)[number];
  sent: number;
  received: number;
  status: number;
  code: string | null;
}

/** The least staleness (ms) that explains `code` for this observation; null when no state ever held it. */
function stalenessOf(o: Observation): number | null {
  let best: number | null = null;
  for (const h of history) {
    if (h.from > o.received) break;
    if (expectedCode(h.state, o.key.userId, o.key.purpose) !== o.code) continue;
    const staleness = Math.max(0, o.sent - h.until);
    best = best === null ? staleness : Math.min(best, staleness);
  }
  return best;
}

test('every explained response matches the database state at the time, on both gateways', async () => {
  const [replicaUrl, pooledUrl] = await Promise.all([direct.ready(120_000), pooled.ready(120_000)]).then((r) =>
    r.map((x) => x.url),
  );
  const urls = { replica: replicaUrl ?? '', pgbouncer: pooledUrl ?? '' };
  if (replica) {
    const deadline = Date.now() + 30_000;
    while (direct.logs.filter((l) => l.replica === 'fresh').length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const started = performance.now();
  const stopAt = started + DURATION_MS;
  let changes = 0;
  const changer = (async () => {
    while (performance.now() < stopAt) {
      const change = randomChange(state);
      const from = performance.now();
      await applyChange(t.db, world, change);
      const until = performance.now();
      state = nextState(state, change);
      const previous = history.at(-1);
      if (previous) previous.until = until;
      history.push({ state, from, until: Number.POSITIVE_INFINITY });
      changes++;
      await new Promise((resolve) => setTimeout(resolve, CHANGE_EVERY_MS));
    }
  })();

  const observations: Observation[] = [];
  const failures: string[] = [];
  const client = async (index: number) => {
    const gateway = index % 2 === 0 ? 'replica' : 'pgbouncer';
    while (performance.now() < stopAt && observations.length < MAX_REQUESTS) {
      const key = keys[Math.floor(Math.random() * keys.length)] ?? keys[0];
      if (!key) return;
      const sent = performance.now();
      try {
        const response = await send(`${urls[gateway]}/ai/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
          body: JSON.stringify({ model: MODEL, messages: [] }),
        });
        const text = response.body.toString();
        const code = text.includes('"request_id"') ? (JSON.parse(text).error.code as string) : null;
        observations.push({ gateway, key, sent, received: performance.now(), status: response.status, code });
      } catch (error) {
        failures.push(`${gateway}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  await changer;

  const bounds = {
    replica: DEFAULT_COALESCE_WINDOW_MS + (replica ? REPLICA_MAX_LAG_MS + PROBE_INTERVAL_MS : 0),
    pgbouncer: DEFAULT_COALESCE_WINDOW_MS,
  };
  const report: Record<
    string,
    { responses: number; maxStalenessMs: number; stale: number; byCode: Record<string, number> }
  > = {};
  const wrong: string[] = [];
  for (const o of observations) {
    const entry = report[o.gateway] ?? { responses: 0, maxStalenessMs: 0, stale: 0, byCode: {} };
    report[o.gateway] = entry;
    entry.responses++;
    const code = o.code ?? 'passed through';
    entry.byCode[code] = (entry.byCode[code] ?? 0) + 1;
    const staleness = stalenessOf(o);
    if (staleness === null) {
      wrong.push(`${o.gateway}: ${o.code} was never the verdict for that key`);
      continue;
    }
    if (staleness > 0) entry.stale++;
    entry.maxStalenessMs = Math.max(entry.maxStalenessMs, staleness);
    if (staleness > bounds[o.gateway]) {
      wrong.push(`${o.gateway}: ${o.code}, ${staleness.toFixed(0)} ms stale (bound ${bounds[o.gateway]} ms)`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\n${observations.length} responses in ${seconds.toFixed(0)} s from 2 gateways × 2 workers ` +
      `(replica: ${replica ? 'streaming replica' : 'none, primary only'}; pooled: ${bouncer ? 'PgBouncer transaction mode' : 'direct'}); ` +
      `${changes} state changes`,
  );
  for (const [gateway, r] of Object.entries(report)) {
    console.log(
      `  ${gateway}: ${r.responses} responses, ${r.stale} answered from a state already replaced when sent, ` +
        `max ${r.maxStalenessMs.toFixed(0)} ms (bound ${bounds[gateway as keyof typeof bounds]} ms); ${JSON.stringify(r.byCode)}`,
    );
  }

  assert.equal(failures.slice(0, 5), [], 'every request got a response');
  assert.equal(wrong.slice(0, 10), [], 'every verdict matched the database within the bound');
  assert.ok(changes > 100, `state changed often (${changes})`);
  for (const gateway of ['replica', 'pgbouncer'] as const) {
    const r = report[gateway];
    assert.ok(r && r.responses > 500, `${gateway} served the soak`);
    for (const code of ['model_access_denied', 'modality_blocked', 'insufficient_credits', 'passed through']) {
      assert.ok((r?.byCode[code] ?? 0) > 0, `${gateway} gave ${code}`);
    }
    const metrics = (await send(`${urls[gateway]}/metrics`)).body.toString();
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="db_error"\} 0$/m);
    assert.match(metrics, /^gateway_passthrough_responses_total\{reason="timeout"\} 0$/m);
  }
});

test.run();
