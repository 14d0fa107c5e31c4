/**
 * Scenario 2, the enrichment path: the upstream answers every request 403, so every response is
 * diagnosed against a real Postgres. One key per state (a platform key, no access, modality
 * blocked, no credits, a spent cap, nothing to explain), 16 connections, rounds interleaved across
 * the states. Two gateways take turns in the same rounds: one with the default settings, where
 * concurrent diagnoses of one key and model share a statement (coalescing), and one with
 * coalescing off, where every diagnosed response costs its own statement (a load spread over many
 * keys). The gateway children count the SQL statements they send (a Drizzle logger), so
 * statements per diagnosed response is exact, not sampled. A third server takes its turn beside them:
 * the floor of explaining a 403 on Node (servers/bare-explainer.ts: node:http, undici and a
 * node-postgres pool, one statement per response, no Koa), so the gateway's cost without
 * coalescing is also read as a ratio to what the platform itself costs. Last, the diagnosis statement alone:
 * the three checks of before next to the five of now, on the same keys.
 * Usage: node --import tsx bench/enrichment-path.ts [--quick]
 */
import type { Database } from '@control-layer/db';
import { seedDenialWorld } from '../packages/db/src/testing/index.ts';
import { jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { DIAGNOSIS_VARIANTS, serverMicros, timeDiagnoses } from './lib/diagnosis-cost.ts';
import { gatewayStats, startGateway, startUpstream } from './lib/gateway.ts';
import { expectOnly, type LoadResult, load } from './lib/load.ts';
import { paced } from './lib/paced.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 5;
const durationSeconds = quick ? 1 : 5;
const warmupSeconds = quick ? 0.5 : 2;
const connections = 16;
const MODEL = 'bench-model';
const P99_TARGET_MS = 5;
/** Gateway CPU per enriched response (the states whose response is rewritten), default settings. */
const CPU_TARGET_US = 350;
/** The same without coalescing, where every response sends its own statement. */
const CPU_TARGET_NO_COALESCING_US = 250;
/** Well below what the path sustains here, so that requests seldom wait for each other. */
const PACED_RATE = 300;

const STATES = [
  'non-inference key',
  'no access',
  'modality blocked',
  'no credits',
  'cap spent',
  'nothing to explain',
] as const;
type State = (typeof STATES)[number];
/** What each state's response must be: the status, and the pass-through reason or enriched code. */
const EXPECTED: Record<State, { status: number; code: string }> = {
  'non-inference key': { status: 403, code: 'non_inference_key' },
  'cap spent': { status: 402, code: 'spend_cap_exceeded' },
  'no access': { status: 403, code: 'model_access_denied' },
  'modality blocked': { status: 403, code: 'modality_blocked' },
  'no credits': { status: 402, code: 'insufficient_credits' },
  'nothing to explain': { status: 403, code: 'forbidden' },
};

/** A key in each state, from the shared fixture (`bench-model`, paid, batch keys denied on it). */
async function seedKeys(db: Database): Promise<Record<State, string>> {
  const { keys } = await seedDenialWorld(db, MODEL);
  return {
    'non-inference key': keys.platform,
    'cap spent': keys.capped,
    'no access': keys.outsider,
    'modality blocked': keys.batch,
    'no credits': keys.broke,
    'nothing to explain': keys.working,
  };
}

/**
 * The default settings, coalescing off (every diagnosed response then sends its own statement),
 * and the floor: the same exchange and statement without the gateway (bare-explainer.ts).
 */
const SETTINGS = ['default', 'no coalescing', 'floor'] as const;
type Setting = (typeof SETTINGS)[number];
type Variant = `${Setting}: ${State}`;
/** Every key state under each setting, the settings side by side for each state. */
const VARIANTS: readonly Variant[] = STATES.flatMap((state) =>
  SETTINGS.map((setting) => `${setting}: ${state}` as const),
);

/** How each setting's figures are named in the report lines. */
const SETTING_SUFFIX: Record<Setting, string> = { default: '', 'no coalescing': '_no_coalescing', floor: '_floor' };

function splitVariant(variant: Variant): [Setting, State] {
  const at = variant.indexOf(': ');
  return [variant.slice(0, at) as Setting, variant.slice(at + 2) as State];
}

interface StateRound {
  load: LoadResult;
  /** Statements sent per response that was diagnosed (enriched, or passed through unexplained). */
  statementsPerDiagnosis: number;
  diagnosed: number;
}

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const keys = await seedKeys(database.db);
  const upstream = await startUpstream('forbidden');
  servers.push(upstream);
  const [gateway, uncoalesced, floor] = await startedTogether(servers, [
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: true }),
    startGateway({
      upstreamUrl: upstream.url,
      databaseUrl: database.url,
      enrichment: true,
      env: { BENCH_COALESCE: 'off' },
    }),
    startChildServer('servers/bare-explainer.ts', [], { UPSTREAM_URL: upstream.url, DATABASE_URL: database.url }),
  ] as const);
  const gateways: Record<Setting, ChildServer> = { default: gateway, 'no coalescing': uncoalesced, floor };
  const url = `${gateway.url}/ai/v1/chat/completions`;
  const body = jsonBody(KiB, MODEL);
  const headersOf = (state: State) => ({ 'content-type': 'application/json', authorization: `Bearer ${keys[state]}` });

  // Each key must produce the response its state names, on both gateways, before anything is timed.
  for (const [setting, state] of Object.values(gateways).flatMap((g) => STATES.map((s) => [g, s] as const))) {
    const response = await fetch(`${setting.url}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: headersOf(state),
      body,
    });
    const payload = (await response.json()) as { error?: { code?: string } };
    const expected = EXPECTED[state];
    if (response.status !== expected.status || payload.error?.code !== expected.code) {
      throw new Error(
        `${state}: expected ${expected.status} ${expected.code}, got ${response.status} ${payload.error?.code}`,
      );
    }
  }

  const run = async (variant: Variant, seconds: number): Promise<StateRound> => {
    const [setting, state] = splitVariant(variant);
    const target = gateways[setting];
    // The floor has no counters: every 403 with a key sends exactly one statement, by construction.
    const before = setting === 'floor' ? null : await gatewayStats(target);
    const result = await load({
      url: `${target.url}/ai/v1/chat/completions`,
      connections,
      durationSeconds: seconds,
      headers: headersOf(state),
      body,
      serverPid: target.pid,
    });
    if (!before) {
      expectOnly(variant, result, EXPECTED[state].status);
      return { load: result, diagnosed: result.responses, statementsPerDiagnosis: 1 };
    }
    // Requests autocannon cut at the end still finish in the gateway; let them be counted.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await gatewayStats(target);
    expectOnly(variant, result, EXPECTED[state].status);
    const diagnosed =
      after.enriched - before.enriched + (after.passThrough.unexplained ?? 0) - (before.passThrough.unexplained ?? 0);
    const failed = ['timeout', 'db_error', 'unknown_key'].filter(
      (reason) => (after.passThrough[reason] ?? 0) !== (before.passThrough[reason] ?? 0),
    );
    if (failed.length > 0) throw new Error(`${variant}: diagnoses ended in ${failed.join(', ')}`);
    return { load: result, diagnosed, statementsPerDiagnosis: (after.statements - before.statements) / diagnosed };
  };
  const results = await interleave(VARIANTS, { rounds, warmup: (variant) => run(variant, warmupSeconds) }, (variant) =>
    run(variant, durationSeconds),
  );

  console.log(
    `enrichment path: upstream answers 403, ${connections} connections, ${rounds} rounds × ${durationSeconds} s, ` +
      `interleaved; ${ROUNDS_LEGEND}\n`,
  );
  const rows: string[][] = [];
  for (const variant of VARIANTS) {
    const [setting, state] = splitVariant(variant);
    const r = results[variant];
    const rps = r.map((x) => x.load.requestsPerSecond);
    const p50 = median(r.map((x) => x.load.p50));
    const p99 = median(r.map((x) => x.load.p99));
    const perDiagnosis =
      r.reduce((sum, x) => sum + x.statementsPerDiagnosis * x.diagnosed, 0) /
      r.reduce((sum, x) => sum + x.diagnosed, 0);
    const name = state.replace(/ /g, '_') + SETTING_SUFFIX[setting];
    const cpus = r.map((x) => x.load.cpuMicrosPerResponse);
    const cpu = median(cpus);
    // Without coalescing, also as a ratio to the floor's CPU in the same rounds.
    const overFloor =
      setting === 'no coalescing'
        ? pairedRatios(
            cpus,
            results[`floor: ${state}`].map((x) => x.load.cpuMicrosPerResponse),
          )
        : null;
    rows.push([
      state,
      setting,
      `${EXPECTED[state].status} ${EXPECTED[state].code}`,
      medianWithSpread(rps),
      p50.toFixed(0),
      p99.toFixed(0),
      cpu.toFixed(0),
      overFloor ? medianWithSpread(overFloor, 3) : '',
      setting === 'floor' ? '1 (by construction)' : perDiagnosis.toFixed(3),
    ]);
    const enriched = state !== 'nothing to explain' && setting !== 'floor';
    const cpuTarget = setting === 'default' ? CPU_TARGET_US : CPU_TARGET_NO_COALESCING_US;
    reportLine(
      'enrichment-path',
      `cpu_us_per_request_${name}`,
      cpu,
      enriched ? `<= ${cpuTarget}` : null,
      enriched ? cpu <= cpuTarget : null,
    );
    if (overFloor) reportLine('enrichment-path', `cpu_ratio_over_floor_${name}`, median(overFloor), null, null);
    reportLine('enrichment-path', `rps_${name}`, median(rps), null, null);
    reportLine('enrichment-path', `p50_ms_${name}`, p50, null, null);
    // The latency target is judged once, with the default settings.
    const judged = setting === 'default';
    reportLine(
      'enrichment-path',
      `p99_ms_${name}`,
      p99,
      judged ? `<= ${P99_TARGET_MS}` : null,
      judged ? p99 <= P99_TARGET_MS : null,
    );
    // At most one: concurrent diagnoses of the same key and model share a statement (coalescing);
    // exactly one without it.
    if (setting !== 'floor') {
      reportLine('enrichment-path', `statements_per_response_${name}`, perDiagnosis, '<= 1', perDiagnosis <= 1);
    }
  }
  printTable(
    [
      'key state',
      'settings',
      'response',
      'requests/s',
      'p50 (ms)',
      'p99 (ms)',
      'server CPU (µs / request)',
      '÷ floor',
      'SQL statements / response',
    ],
    rows,
  );

  // With 16 connections in a closed loop, latency is 16 / throughput whatever the path costs
  // (Little's law). A moderate rate on a fixed schedule shows what a diagnosis takes when requests
  // do not queue behind each other; one connection shows the service time.
  const open = await interleave(STATES, { rounds: 1 }, async (state) => {
    const result = await paced({
      url,
      rate: PACED_RATE,
      durationSeconds,
      connections,
      headers: headersOf(state),
      body,
    });
    const wrong = Object.keys(result.statuses).filter((code) => Number(code) !== EXPECTED[state].status);
    if (wrong.length > 0 || result.errors > 0) {
      throw new Error(`${state}, paced: got ${JSON.stringify(result.statuses)} and ${result.errors} errors`);
    }
    return result;
  });
  const single = await interleave(STATES, { rounds: 1 }, async (state) => {
    const result = await load({ url, connections: 1, durationSeconds, headers: headersOf(state), body });
    expectOnly(`${state}, 1 connection`, result, EXPECTED[state].status);
    return result;
  });
  console.log(
    `the same without queueing (one round each): ${PACED_RATE} requests/s on a fixed schedule; 1 connection\n`,
  );
  printTable(
    [
      'key state',
      `${PACED_RATE}/s p50 (ms)`,
      `${PACED_RATE}/s p99 (ms)`,
      '1 connection: requests/s',
      'p50 (ms)',
      'p99 (ms)',
    ],
    STATES.map((state) => {
      const [o] = open[state];
      const [r] = single[state];
      return [
        state,
        (o?.p50 ?? 0).toFixed(2),
        (o?.p99 ?? 0).toFixed(2),
        (r?.requestsPerSecond ?? 0).toFixed(0),
        `${r?.p50 ?? 0}`,
        `${r?.p99 ?? 0}`,
      ];
    }),
  );
  for (const state of STATES) {
    const name = state.replace(/ /g, '_');
    reportLine('enrichment-path', `p99_ms_paced_${PACED_RATE}_${name}`, open[state][0]?.p99 ?? 0, null, null);
    reportLine('enrichment-path', `p99_ms_1_connection_${name}`, single[state][0]?.p99 ?? 0, null, null);
  }

  // The statement alone, before and now, on one connection: what the new checks add to a diagnosis.
  const iterations = quick ? 300 : 2000;
  const secrets = STATES.map((state) => keys[state]);
  const statement = await interleave(
    DIAGNOSIS_VARIANTS,
    { rounds, warmup: (variant) => timeDiagnoses(database.db, variant, secrets, MODEL, iterations / 4) },
    (variant) => timeDiagnoses(database.db, variant, secrets, MODEL, iterations),
  );
  const server = await interleave(DIAGNOSIS_VARIANTS, { rounds }, (variant) =>
    serverMicros(database.url, variant, secrets, MODEL, iterations / 2),
  );
  const [before = 'before: 3 checks', now = 'now: 5 checks'] = DIAGNOSIS_VARIANTS;
  const ratios = pairedRatios(statement[now], statement[before]);
  const serverRatios = pairedRatios(server[now], server[before]);
  console.log(
    `the diagnosis statement alone, sequential on one connection, ${iterations} per round over the ${STATES.length} keys; ${ROUNDS_LEGEND}\n`,
  );
  printTable(
    ['statement', 'µs / diagnosis, client', 'now ÷ before', 'µs in the server (plan + execute)', 'now ÷ before'],
    [
      [before, medianWithSpread(statement[before], 1), '', medianWithSpread(server[before], 1), ''],
      [
        now,
        medianWithSpread(statement[now], 1),
        medianWithSpread(ratios, 2),
        medianWithSpread(server[now], 1),
        medianWithSpread(serverRatios, 2),
      ],
    ],
  );
  reportLine('enrichment-path', 'diagnosis_us_before_3_checks', median(statement[before]), null, null);
  reportLine('enrichment-path', 'diagnosis_us_now_5_checks', median(statement[now]), null, null);
  reportLine('enrichment-path', 'diagnosis_cost_ratio_now_over_before', median(ratios), null, null);
  reportLine('enrichment-path', 'diagnosis_server_us_before_3_checks', median(server[before]), null, null);
  reportLine('enrichment-path', 'diagnosis_server_us_now_5_checks', median(server[now]), null, null);
  reportLine('enrichment-path', 'diagnosis_server_ratio_now_over_before', median(serverRatios), null, null);
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}
