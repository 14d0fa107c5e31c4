/**
 * Scenario 4, memory: the gateway's peak resident memory over its idle baseline while it carries
 * 32 concurrent 8 MiB uploads (error enrichment holds each body to diagnose a possible 403), and
 * while it refuses uploads far over `maxBodyBytes` (declared by `content-length`, and chunked with
 * no length). Each round starts a fresh gateway, so every peak is its own; rounds interleave
 * across the cases. RSS comes from /proc/<pid>/status (VmRSS, and VmHWM reset before the uploads).
 * Usage: node --import tsx bench/memory.ts [--quick]
 */
import { request } from 'node:http';
import { formatBytes, jsonBody, MiB } from './lib/bodies.ts';
import type { ChildServer } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { readMemory, resetPeak } from './lib/memory.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 1 : 3;
const LIMIT = 10 * MiB;
const CHUNK = Buffer.alloc(MiB, 'x');
const UPLOAD_TIMEOUT_MS = 60_000;
/** How a client sees a server that closed the connection while it was still sending. */
const CLOSED = new Set(['ECONNRESET', 'EPIPE']);

interface Case {
  enrichment: boolean;
  uploads: number;
  bytes: number;
  declareLength: boolean;
  /** The status every upload must get. */
  status: number;
  /** Most RSS growth allowed, in bytes; null when the case is for comparison only. */
  budget: number | null;
  budgetText: string | null;
}

const CASES = {
  '32 × 8 MiB, enrichment on': {
    enrichment: true,
    uploads: 32,
    bytes: 8 * MiB,
    declareLength: true,
    status: 200,
    budget: 2 * 32 * 8 * MiB,
    budgetText: '<= 2 copies of each body (512 MiB)',
  },
  '32 × 8 MiB, enrichment off': {
    enrichment: false,
    uploads: 32,
    bytes: 8 * MiB,
    declareLength: true,
    status: 200,
    budget: null,
    budgetText: null,
  },
  '8 × 1 GiB declared, limit 10 MiB': {
    enrichment: true,
    uploads: 8,
    bytes: 1024 * MiB,
    declareLength: true,
    status: 413,
    budget: 2 * 8 * LIMIT,
    budgetText: '<= 2 × limit per upload (160 MiB)',
  },
  '8 × 1 GiB chunked, limit 10 MiB': {
    enrichment: true,
    uploads: 8,
    bytes: 1024 * MiB,
    declareLength: false,
    status: 413,
    budget: 2 * 8 * LIMIT,
    budgetText: '<= 2 × limit per upload (160 MiB)',
  },
} satisfies Record<string, Case>;
type CaseName = keyof typeof CASES;
const CASE_NAMES = Object.keys(CASES) as CaseName[];

interface Upload {
  status: number | null;
  /** Bytes handed to the socket before the response (or the connection's end). */
  sent: number;
  error: string | null;
}

/** POST `total` bytes in 1 MiB writes, with backpressure; stops writing once a response arrives. */
function upload(url: string, total: number, declareLength: boolean, first: Buffer | null): Promise<Upload> {
  return new Promise((resolve) => {
    let sent = 0;
    let status: number | null = null;
    let settled = false;
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', ...(declareLength && { 'content-length': String(total) }) },
    });
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ status, sent, error });
    };
    const timer = setTimeout(() => finish('timeout'), UPLOAD_TIMEOUT_MS);
    req.on('response', (res) => {
      status = res.statusCode ?? null;
      res.resume();
      res.once('end', () => finish(null));
      res.once('error', (error: Error & { code?: string }) => finish(error.code ?? error.message));
    });
    req.on('error', (error: Error & { code?: string }) => finish(error.code ?? error.message));
    const pump = () => {
      while (!settled && status === null && sent < total) {
        const chunk = first && sent === 0 ? first : CHUNK.subarray(0, Math.min(CHUNK.length, total - sent));
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!settled && status === null) req.end();
    };
    pump();
  });
}

interface CaseRound {
  baseline: number;
  growth: number;
  uploads: Upload[];
}

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const upstream = await startUpstream('ok');
  servers.push(upstream);
  const smallBody = jsonBody(1024);
  // A valid request body, so the 8 MiB uploads are what a client would send.
  const eightMiB = Buffer.from(jsonBody(8 * MiB));

  const measure = async (name: CaseName): Promise<CaseRound> => {
    const c: Case = CASES[name];
    const gateway = await startGateway({
      upstreamUrl: upstream.url,
      databaseUrl: database.url,
      enrichment: c.enrichment,
      env: { MAX_BODY_BYTES: String(LIMIT) },
    });
    try {
      const url = `${gateway.url}/ai/v1/chat/completions`;
      // Warm-up: every code path the uploads take is loaded and compiled before the baseline.
      for (let i = 0; i < 50; i++) {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: smallBody,
        });
        await response.arrayBuffer();
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const baseline = readMemory(gateway.pid).rss;
      const peakWasReset = resetPeak(gateway.pid);
      // Sampling as well: the fallback where VmHWM cannot be reset, and a check where it can.
      let sampled = baseline;
      const sampler = setInterval(() => {
        sampled = Math.max(sampled, readMemory(gateway.pid).rss);
      }, 5);
      const body = c.bytes === 8 * MiB ? eightMiB : null;
      const uploads = await Promise.all(
        Array.from({ length: c.uploads }, () => upload(url, c.bytes, c.declareLength, body)),
      );
      clearInterval(sampler);
      const memory = readMemory(gateway.pid);
      const peak = Math.max(sampled, memory.rss, peakWasReset ? memory.peak : 0);
      const wrong = uploads.filter((u) => u.status !== c.status);
      if (c.status === 200 && wrong.length > 0) {
        throw new Error(`${name}: ${wrong.length} uploads did not get 200: ${JSON.stringify(wrong[0])}`);
      }
      return { baseline, growth: peak - baseline, uploads };
    } finally {
      await gateway.stop();
    }
  };
  const results = await interleave(CASE_NAMES, { rounds }, measure);

  console.log(
    `memory: peak RSS of a fresh gateway over its idle baseline, ${rounds} rounds per case; ${ROUNDS_LEGEND}\n`,
  );
  const rows: string[][] = [];
  for (const name of CASE_NAMES) {
    const c: Case = CASES[name];
    const r = results[name];
    const growth = r.map((x) => x.growth / MiB);
    const all = r.flatMap((x) => x.uploads);
    const outcomes = new Map<string, number>();
    for (const u of all) {
      const outcome = u.status === null ? (u.error ?? 'no answer') : String(u.status);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    const maxSent = Math.max(...all.map((u) => u.sent));
    const held = c.uploads * (c.status === 413 ? LIMIT : c.bytes);
    const copies = median(growth) / (held / MiB);
    rows.push([
      name,
      `${median(r.map((x) => x.baseline / MiB)).toFixed(0)}`,
      medianWithSpread(growth),
      copies.toFixed(2),
      [...outcomes].map(([outcome, n]) => `${n} × ${outcome}`).join(', '),
      formatBytes(maxSent),
    ]);
    const key = name
      .replace(/[^a-z0-9]+/gi, '_')
      .replace(/_$/, '')
      .toLowerCase();
    const met = c.budget === null ? null : median(growth) * MiB <= c.budget;
    reportLine('memory', `rss_growth_mib_${key}`, median(growth), c.budgetText, met);
    reportLine('memory', `copies_per_body_${key}`, copies, null, null);
    if (c.status === 413) {
      // The server closing the connection on a client still sending is a refusal too; the client
      // may then see a reset before it reads the 413 (see RESULTS.md).
      const refused = all.filter((u) => u.status === 413 || (u.status === null && CLOSED.has(u.error ?? ''))).length;
      const refusedEarly = refused === all.length && maxSent <= c.bytes / 8;
      reportLine(
        'memory',
        `refused_early_${key}`,
        refused / all.length,
        'all refused before 1/8 was sent',
        refusedEarly,
      );
      reportLine('memory', `saw_413_${key}`, (outcomes.get('413') ?? 0) / all.length, null, null);
      reportLine('memory', `max_sent_mib_${key}`, maxSent / MiB, null, null);
    }
  }
  printTable(
    ['case', 'idle RSS (MiB)', 'peak growth (MiB)', 'growth / bytes held', 'responses', 'most sent by one client'],
    rows,
  );
  console.log(
    'growth / bytes held: peak growth over the bytes the gateway had to hold at once (uploads × body, or × limit ' +
      'when refused); 2.00 = two copies of each.',
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}
