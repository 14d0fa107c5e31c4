/**
 * The dialects' cost. First, the same explained 403 (no access to the model, diagnosed against a
 * real Postgres) asked for by an OpenAI client on /ai/v1/chat/completions with a bearer key and by
 * an Anthropic client on /ai/v1/messages with `x-api-key` and `anthropic-version`, on one gateway,
 * rounds interleaved: gateway CPU per response, Anthropic over OpenAI. Second, an OpenAI
 * pass-through (the upstream answers 200) through a gateway that decides each request's dialect
 * and one that does not (`BENCH_DIALECT=off` takes the deciding middleware out), side by side.
 * Usage: node --import tsx bench/dialects.ts [--quick]
 */
import { seedDenialWorld } from '../packages/db/src/testing/index.ts';
import { jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { expectOnly, type LoadResult, load } from './lib/load.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 7;
const durationSeconds = quick ? 1 : 4;
const warmupSeconds = quick ? 0.5 : 2;
const connections = 16;
const MODEL = 'bench-model';
/** Anthropic's denial may cost at most this much more gateway CPU than OpenAI's. */
const DENIAL_CPU_RATIO_TARGET = 1.05;
/** Deciding the dialect may add at most this much to a pass-through's gateway CPU. */
const PASS_THROUGH_CPU_RATIO_TARGET = 1.02;

const DENIALS = ['openai', 'anthropic'] as const;
type Denial = (typeof DENIALS)[number];
const PASS_THROUGHS = ['dialect decided', 'no dialect check'] as const;
type PassThrough = (typeof PASS_THROUGHS)[number];

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const { keys } = await seedDenialWorld(database.db, MODEL);
  const [forbidden, ok] = await startedTogether(servers, [startUpstream('forbidden'), startUpstream('ok')] as const);
  const [denying, decided, unchecked] = await startedTogether(servers, [
    startGateway({ upstreamUrl: forbidden.url, databaseUrl: database.url, enrichment: true }),
    startGateway({ upstreamUrl: ok.url, databaseUrl: database.url, enrichment: true }),
    startGateway({ upstreamUrl: ok.url, databaseUrl: database.url, enrichment: true, env: { BENCH_DIALECT: 'off' } }),
  ] as const);
  const body = jsonBody(KiB, MODEL);

  const denialRequest: Record<Denial, { path: string; headers: Record<string, string> }> = {
    openai: {
      path: '/ai/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.outsider}` },
    },
    anthropic: {
      path: '/ai/v1/messages',
      headers: { 'content-type': 'application/json', 'x-api-key': keys.outsider, 'anthropic-version': '2023-06-01' },
    },
  };
  // Each request must get the denial in its own envelope before anything is timed.
  for (const denial of DENIALS) {
    const { path, headers } = denialRequest[denial];
    const response = await fetch(`${denying.url}${path}`, { method: 'POST', headers, body });
    const payload = (await response.json()) as { type?: string; error?: { code?: string } };
    const shaped = denial === 'anthropic' ? payload.type === 'error' : payload.type === undefined;
    if (response.status !== 403 || payload.error?.code !== 'model_access_denied' || !shaped) {
      throw new Error(
        `${denial}: expected its 403 model_access_denied, got ${response.status} ${JSON.stringify(payload)}`,
      );
    }
  }
  const runDenial = async (denial: Denial, seconds: number): Promise<LoadResult> => {
    const { path, headers } = denialRequest[denial];
    const result = await load({
      url: `${denying.url}${path}`,
      connections,
      durationSeconds: seconds,
      headers,
      body,
      serverPid: denying.pid,
    });
    expectOnly(`${denial} denial`, result, 403);
    return result;
  };
  const denials = await interleave(DENIALS, { rounds, warmup: (d) => runDenial(d, warmupSeconds) }, (d) =>
    runDenial(d, durationSeconds),
  );

  const passThroughGateway: Record<PassThrough, ChildServer> = {
    'dialect decided': decided,
    'no dialect check': unchecked,
  };
  const passHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
  const runPassThrough = async (variant: PassThrough, seconds: number): Promise<LoadResult> => {
    const target = passThroughGateway[variant];
    const result = await load({
      url: `${target.url}/ai/v1/chat/completions`,
      connections,
      durationSeconds: seconds,
      headers: passHeaders,
      body,
      serverPid: target.pid,
    });
    expectOnly(`pass-through, ${variant}`, result, 200);
    return result;
  };
  const passThroughs = await interleave(
    PASS_THROUGHS,
    { rounds, warmup: (v) => runPassThrough(v, warmupSeconds) },
    (v) => runPassThrough(v, durationSeconds),
  );

  console.log(
    `dialects: ${connections} connections, 1 KiB bodies, ${rounds} rounds × ${durationSeconds} s, interleaved; ${ROUNDS_LEGEND}\n`,
  );
  const cpu = (results: LoadResult[]) => results.map((r) => r.cpuMicrosPerResponse);
  const rps = (results: LoadResult[]) => results.map((r) => r.requestsPerSecond);
  const denialRatios = pairedRatios(cpu(denials.anthropic), cpu(denials.openai));
  const passRatios = pairedRatios(cpu(passThroughs['dialect decided']), cpu(passThroughs['no dialect check']));
  const rows: string[][] = [
    ...DENIALS.map((d) => [
      `403 model_access_denied, ${d}`,
      medianWithSpread(rps(denials[d])),
      median(cpu(denials[d])).toFixed(0),
    ]),
    ['**anthropic / openai**', '', medianWithSpread(denialRatios, 3)],
    ...PASS_THROUGHS.map((v) => [
      `200 pass-through, ${v}`,
      medianWithSpread(rps(passThroughs[v])),
      median(cpu(passThroughs[v])).toFixed(0),
    ]),
    ['**decided / no check**', '', medianWithSpread(passRatios, 3)],
  ];
  printTable(['response', 'requests/s', 'gateway CPU (µs / request)'], rows);
  for (const d of DENIALS) reportLine('dialects', `cpu_us_per_denial_${d}`, median(cpu(denials[d])), null, null);
  for (const v of PASS_THROUGHS) {
    reportLine('dialects', `cpu_us_per_pass_through_${v.replace(/ /g, '_')}`, median(cpu(passThroughs[v])), null, null);
  }
  const denialRatio = median(denialRatios);
  reportLine(
    'dialects',
    'anthropic_openai_denial_cpu_ratio',
    denialRatio,
    `<= ${DENIAL_CPU_RATIO_TARGET}`,
    denialRatio <= DENIAL_CPU_RATIO_TARGET,
  );
  const passRatio = median(passRatios);
  reportLine(
    'dialects',
    'dialect_check_pass_through_cpu_ratio',
    passRatio,
    `<= ${PASS_THROUGH_CPU_RATIO_TARGET}`,
    passRatio <= PASS_THROUGH_CPU_RATIO_TARGET,
  );
  console.log(
    'Ratios: median of the round-by-round ratios (each pair measured back to back). Gateway CPU: user + system ' +
      'time of the gateway process, all threads, per response.',
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}
