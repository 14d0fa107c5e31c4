/*
 * The one-statement diagnosis and the verdict rules against the step-by-step definition
 * (step-by-step.ts), over random worlds (random-world.ts) from fixed seeds: every key, alias and
 * rule purpose of each world, facts and verdict both.
 */
import { type DenialFacts, explainDenial } from '@control-layer/db';
import { withTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { diagnoseDenial } from '../src/index.ts';
import { buildWorld } from './random-world.ts';
import { expectedCode, expectedFacts, loadTables } from './step-by-step.ts';

const test = suite('differential');
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/** Decimals and dates as strings, so deep equality compares values, not representations. */
function comparable(facts: DenialFacts | null) {
  if (!facts) return null;
  const cap = facts.spendCap;
  return {
    ...facts,
    balance: facts.balance.toFixed(),
    spendCap: cap && { ...cap, limit: cap.limit.toFixed(), windowSpend: cap.windowSpend.toFixed() },
  };
}

test('agree with the step-by-step definition on every key, alias and rule purpose of random worlds', async () => {
  const seen = new Map<string, number>();
  for (const seed of SEEDS) {
    await withTestDatabase(async (db) => {
      const world = await buildWorld(db, seed);
      const tables = await loadTables(db);
      const now = new Date();
      for (const secret of world.secrets) {
        for (const alias of world.aliases) {
          for (const rulePurpose of [undefined, 'batch']) {
            const where = `seed ${seed}, key ${secret.slice(0, 12)}, alias ${alias}, rule purpose ${rulePurpose}`;
            const actual = await explainDenial(db, secret, alias, rulePurpose ? { rulePurpose } : {});
            const expected = expectedFacts(tables, secret, alias, rulePurpose, now);
            assert.equal(comparable(actual), comparable(expected), where);
            if (rulePurpose) continue;
            const code = actual ? (diagnoseDenial(actual, alias)?.code ?? null) : null;
            assert.is(code, expectedCode(expected, alias), where);
            const outcome = actual ? (code ?? 'unexplained') : 'unknown key';
            seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
          }
        }
      }
    });
  }
  // The worlds are only worth their seeds if they reach every outcome.
  for (const outcome of [
    'unknown key',
    'unexplained',
    'api_key_expired',
    'non_inference_key',
    'model_access_denied',
    'modality_blocked',
    'insufficient_credits',
    'spend_cap_exceeded',
    'spend_cap_reset_pending',
  ]) {
    assert.ok((seen.get(outcome) ?? 0) > 0, `no ${outcome} in ${JSON.stringify([...seen])}`);
  }
});

test.run();
