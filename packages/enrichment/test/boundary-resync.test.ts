/*
 * The 4′ notification: at most one per interval, never awaited by the response, and a failure is
 * only logged.
 */
import type { Database } from '@control-layer/db';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createBoundaryResync } from '../src/index.ts';

const test = suite('boundary resync');

/** A database stand-in that records statements and answers them with `outcome` (never settles when null). */
function recordingDb(outcome: 'ok' | 'fail' | null) {
  const sent: unknown[] = [];
  const db = {
    execute(statement: unknown) {
      sent.push(statement);
      if (outcome === null) return new Promise(() => {});
      return outcome === 'ok' ? Promise.resolve({ rows: [] }) : Promise.reject(new Error('connection refused'));
    },
  } as unknown as Database;
  return { db, sent };
}

test('sends at most one notification per interval, by the clock it is given', () => {
  const { db, sent } = recordingDb('ok');
  let now = 1_000_000;
  const resync = createBoundaryResync(
    db,
    60_000,
    () => {},
    () => now,
  );
  resync.fire();
  resync.fire();
  now += 59_999;
  resync.fire();
  assert.is(sent.length, 1);
  now += 1;
  resync.fire();
  assert.is(sent.length, 2);
});

test('returns at once even when the database never answers, and reports a failure without throwing', async () => {
  const hanging = recordingDb(null);
  createBoundaryResync(hanging.db, 0, () => {}).fire();
  assert.is(hanging.sent.length, 1);

  const failing = recordingDb('fail');
  const errors: unknown[] = [];
  createBoundaryResync(failing.db, 0, (error) => errors.push(error)).fire();
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(errors.length, 1);
  assert.match(String(errors[0]), 'connection refused');
});

test.run();
