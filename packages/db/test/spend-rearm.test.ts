/*
 * Every path that restarts a cap window tells a router once (`api_key_spend_cap_rearm:<micros>`
 * on `auth_config_changed`), in the transaction that restarts it, and a path that restarts
 * nothing tells nothing.
 */
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey, type Database, Decimal, resetApiKeySpendWindow, setApiKeySpendCap } from '../src/index.ts';
import {
  createTestApiKey,
  createTestUser,
  listenNotifications,
  type NotificationListener,
  rejection,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('spend cap rearm');
const CHANNEL = 'auth_config_changed';

/** How many rearm notifications `change` caused (a marker notify, sent after it, ends the wait). */
async function rearms(db: Database, listener: NotificationListener, change: () => Promise<unknown>) {
  listener.clear();
  await change();
  const marker = `marker:${Math.random()}`;
  await db.execute(sql`select pg_notify(${CHANNEL}, ${marker})`);
  await listener.waitFor(marker);
  return listener.matching('api_key_spend_cap_rearm:').length;
}

const cap = (limit: string, interval: 'daily' | 'weekly' | null, resetWindow = false) => ({
  limit: new Decimal(limit),
  interval,
  resetWindow,
});

test('tell the router once for each path that restarts a window, and never for one that does not', () =>
  withTestDatabase(async (db, t) => {
    const listener = await listenNotifications(t.url, CHANNEL);
    try {
      const user = await createTestUser(db);
      const { key } = await createTestApiKey(db, user.id);
      const child = await createApiKey(db, {
        userId: user.id,
        createdBy: user.id,
        name: 'c',
        purpose: 'batch',
        hidden: true,
        parentApiKeyId: key.id,
      });
      const cases: [string, () => Promise<unknown>, number][] = [
        ['a new cap', () => setApiKeySpendCap(db, key.id, cap('10', 'daily')), 1],
        ['a new limit only', () => setApiKeySpendCap(db, key.id, cap('20', 'daily')), 0],
        ['a new interval', () => setApiKeySpendCap(db, key.id, cap('20', 'weekly')), 1],
        ['resetWindow (keys cap --reset-window)', () => setApiKeySpendCap(db, key.id, cap('20', 'weekly', true)), 1],
        ['a new interval and resetWindow', () => setApiKeySpendCap(db, key.id, cap('20', null, true)), 1],
        ['resetApiKeySpendWindow on the root', () => resetApiKeySpendWindow(db, key.id), 1],
        ['resetApiKeySpendWindow on a child', () => resetApiKeySpendWindow(db, child.key.id), 1],
        [
          'a new cap by plain SQL',
          async () => {
            await db.execute(sql`update api_keys set spend_limit = null where id = ${key.id}`);
            await db.execute(
              sql`update api_keys set spend_limit = 5, spend_limit_interval = 'daily' where id = ${key.id}`,
            );
          },
          1,
        ],
        [
          'a new cap and a reset in one transaction',
          () =>
            db.transaction(async (tx) => {
              await tx.execute(sql`update api_keys set spend_limit_interval = 'weekly' where id = ${key.id}`);
              await resetApiKeySpendWindow(tx, key.id);
            }),
          1,
        ],
      ];
      for (const [path, change, expected] of cases) {
        assert.is(await rearms(db, listener, change), expected, path);
      }
      const rolledBack = await rearms(db, listener, () =>
        rejection(() =>
          db.transaction(async (tx) => {
            await resetApiKeySpendWindow(tx, key.id);
            throw new Error('roll back');
          }),
        ),
      );
      assert.is(rolledBack, 0, 'a restart rolled back tells nothing');
    } finally {
      await listener.close();
    }
  }));

test.run();
