/*
 * The demo world `pnpm start` seeds into an embedded database, here on Postgres: seeding is
 * idempotent, and each printed curl command shows the outcome its title promises.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rowsOf } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CANNED_REPLY, DEMO_KEYS, demoCurlCommands, seedDemoData } from '../src/index.ts';
import { startStack } from './helpers.ts';

const test = suite('demo data');
const run = promisify(execFile);

const t = await createTestDatabase();
const stack = await startStack(t.db);

test.after(async () => {
  await stack?.close();
  await t?.close();
});

async function rowCounts(): Promise<Record<string, number>> {
  const tables = ['users', 'api_keys', 'groups', 'user_groups', 'deployed_models', 'deployment_groups'];
  tables.push('model_tariffs', 'api_key_spend_checkpoints');
  const counts: Record<string, number> = {};
  for (const table of [...tables, 'model_traffic_rules', 'credits_transactions', 'inference_endpoints']) {
    const result = await t.db.execute(sql`select count(*)::int as n from ${sql.identifier(table)}`);
    counts[table] = rowsOf<{ n: number }>(result)[0]?.n ?? -1;
  }
  return counts;
}

test('seeds once, and changes nothing when seeded again', async () => {
  await seedDemoData(t.db);
  const first = await rowCounts();
  assert.is(first.api_keys, Object.keys(DEMO_KEYS).length);
  await seedDemoData(t.db);
  assert.equal(await rowCounts(), first);
});

test('gives demo keys the shape of real keys', () => {
  for (const key of Object.values(DEMO_KEYS)) assert.match(key, /^sk-[A-Za-z0-9_-]{43}$/);
});

test('prints curl commands that each show the outcome their title names', async () => {
  const commands = demoCurlCommands(stack.gatewayUrl);
  assert.is(commands.length, 10);
  const outcomes: string[] = [];
  for (const { title, command } of commands) {
    const { stdout } = await run('sh', ['-c', command]);
    if (title.includes('streamed')) {
      assert.ok(stdout.trimEnd().endsWith('data: [DONE]'), stdout);
      outcomes.push('stream');
      continue;
    }
    const body = JSON.parse(stdout);
    if (body.object === 'list') {
      outcomes.push(body.data.map((m: { id: string }) => m.id).join(','));
      continue;
    }
    outcomes.push(body.error?.code ?? body.choices?.[0]?.message.content);
    if (body.error) assert.ok(title.includes(body.error.code), `${title}: got ${body.error.code}`);
  }
  assert.equal(outcomes, [
    CANNED_REPLY,
    'stream',
    'model_access_denied',
    'modality_blocked',
    'insufficient_credits',
    'forbidden',
    'non_inference_key',
    'spend_cap_exceeded',
    CANNED_REPLY,
    'demo-chat,demo-free',
  ]);
});

test.run();
