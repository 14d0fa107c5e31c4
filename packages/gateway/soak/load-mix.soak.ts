/*
 * 20,000 requests at 64 connections through the real gateway process (`src/main.ts`, stub
 * upstream in-process, real Postgres), mixing every case: completions, streams, each denial, an
 * unknown key, oversize bodies. Loopback only; bounded by count and time. Checks every answer,
 * counts 5xx, and watches the gateway's memory across rounds.
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { Pool } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { chat, seedWorld } from '../test/helpers.ts';
import { bareEnv, startProcess } from '../test/process.ts';

const test = suite('load mix');

const TOTAL = 20_000;
const ROUNDS = 4;
const CONNECTIONS = 64;
const MAX_BODY_BYTES = 64 * 1024;
const DEADLINE_MS = 10 * 60_000;

const t = await createTestDatabase({ poolSize: 4 });
const { keys } = await seedWorld(t.db);
const gateway = startProcess(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', '--import', './soak/gc-on-signal.ts', 'src/main.ts'],
  bareEnv({ DATABASE_URL: t.url, PORT: '0', MAX_BODY_BYTES: String(MAX_BODY_BYTES) }),
);

test.after(async () => {
  gateway.stop();
  await t?.close();
});

interface Kind {
  name: string;
  key: string;
  body: string;
  check: (status: number, body: string) => string | null;
}

const json = (value: unknown) => JSON.stringify(value);
const expectCode = (status: number, code: string) => (s: number, body: string) => {
  if (s !== status) return `status ${s}`;
  return JSON.parse(body).error?.code === code ? null : `code in ${body.slice(0, 120)}`;
};

const KINDS: Kind[] = [
  {
    name: 'completion',
    key: keys.working,
    body: json(chat()),
    check: (s, b) => (s === 200 && b.includes('"choices"') ? null : `status ${s}`),
  },
  {
    name: 'stream',
    key: keys.working,
    body: json({ ...chat(), stream: true }),
    check: (s, b) => (s === 200 && b.trimEnd().endsWith('data: [DONE]') ? null : `status ${s}, stream not finished`),
  },
  { name: 'no access', key: keys.outsider, body: json(chat()), check: expectCode(403, 'model_access_denied') },
  { name: 'modality', key: keys.batch, body: json(chat()), check: expectCode(403, 'modality_blocked') },
  { name: 'no credits', key: keys.broke, body: json(chat()), check: expectCode(402, 'insufficient_credits') },
  {
    name: 'unknown key',
    key: 'sk-unknown',
    body: json(chat()),
    check: (s, b) => (s === 403 && b === FORBIDDEN_BODY ? null : `status ${s}`),
  },
  {
    name: 'oversize',
    key: keys.working,
    body: json({ ...chat(), pad: 'x'.repeat(MAX_BODY_BYTES) }),
    check: expectCode(413, 'request_too_large'),
  },
];

/** The gateway's memory right after a full collection (see gc-on-signal.ts). */
async function memory(url: string, pid: number): Promise<{ rss: number; heap: number }> {
  process.kill(pid, 'SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rss: read('process_resident_memory_bytes'), heap: read('nodejs_heap_size_used_bytes') };
}

test('answers 20,000 mixed requests correctly with no 5xx, and memory does not grow across rounds', async () => {
  const { url, pid } = await gateway.ready();
  const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
  const stopAt = Date.now() + DEADLINE_MS;
  const counts = new Map<string, number>();
  const failures: string[] = [];
  let fiveHundreds = 0;
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const idle = await memory(url, pid);
  const perRound: { rss: number; heap: number }[] = [];
  const started = performance.now();
  try {
    let next = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const end = Math.min(TOTAL, ((round + 1) * TOTAL) / ROUNDS);
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (next < end && Date.now() < stopAt) {
            const i = next++;
            const kind = KINDS[i % KINDS.length];
            if (!kind) continue;
            try {
              const response = await pool.request({
                path: '/ai/v1/chat/completions',
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${kind.key}` },
                body: kind.body,
              });
              const body = await response.body.text();
              if (response.statusCode >= 500) fiveHundreds++;
              const problem = kind.check(response.statusCode, body);
              if (problem) failures.push(`${kind.name} #${i}: ${problem}`);
              counts.set(kind.name, (counts.get(kind.name) ?? 0) + 1);
            } catch (error) {
              failures.push(`${kind.name} #${i}: ${error instanceof Error ? error.message : String(error)}`);
            }
          }
        }),
      );
      perRound.push(await memory(url, pid));
    }
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const sent = [...counts.values()].reduce((a, b) => a + b, 0) + failures.filter((f) => !f.includes('status')).length;
  console.log(
    `\n  ${sent} requests in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s) at ${CONNECTIONS} connections`,
  );
  console.log(`  by kind: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  console.log(`  5xx: ${fiveHundreds}; wrong answers: ${failures.length}`);
  console.log(
    `  memory after a full GC (RSS / heap MiB): idle ${mb(idle.rss)} / ${mb(idle.heap)}; after each round ${perRound
      .map((m) => `${mb(m.rss)} / ${mb(m.heap)}`)
      .join(', ')}`,
  );
  assert.equal(failures.slice(0, 10), []);
  assert.is(fiveHundreds, 0);
  assert.is(sent, TOTAL);
  const first = perRound[0];
  const last = perRound.at(-1);
  assert.ok(first && last);
  // No growth across rounds: later rounds may not keep what earlier ones used.
  assert.ok(last.rss < first.rss * 1.25, `RSS grew from ${mb(first.rss)} to ${mb(last.rss)} MiB`);
  assert.ok(
    last.heap < first.heap * 1.5 + 16 * 1024 * 1024,
    `heap grew from ${mb(first.heap)} to ${mb(last.heap)} MiB`,
  );
});

test.run();
