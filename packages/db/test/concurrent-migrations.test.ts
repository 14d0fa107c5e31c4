/*
 * A fleet starting at once: several processes apply the migrations to the same empty database at
 * the same moment, straight to Postgres and through PgBouncer in transaction mode. Each migration
 * must be applied exactly once and every start must succeed.
 */
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MIGRATIONS_FOLDER, migrate, openDatabase, rowsOf } from '../src/index.ts';
import { createEmptyTestDatabase, findPgBouncer, sharedTestPostgres, startPgBouncer } from '../src/testing/index.ts';

const test = suite('concurrent migrations');
const MIGRATIONS = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).length;
const server = await sharedTestPostgres();
const bouncer = findPgBouncer() ? await startPgBouncer(server.url, { defaultPoolSize: 4 }) : null;

test.after(async () => {
  await bouncer?.stop();
});

async function startAtOnce(url: string, processes: number): Promise<void> {
  const opened = await Promise.all(Array.from({ length: processes }, () => openDatabase(url, { poolSize: 2 })));
  try {
    const results = await Promise.allSettled(opened.map((o) => migrate(o.db)));
    const failed = results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason));
    assert.equal(failed, [], 'every start migrated or found nothing to do');
    const counts = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    // What each start reports: together they applied each migration once, and each saw them all.
    assert.is(
      counts.reduce((sum, c) => sum + c.applied, 0),
      MIGRATIONS,
      'applied counts add up to the migrations',
    );
    assert.ok(
      counts.every((c) => c.total === MIGRATIONS),
      JSON.stringify(counts),
    );
    const [first] = opened;
    const applied = rowsOf<{ n: number }>(
      (await (first?.db ?? opened[0]?.db)?.execute(
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      )) ?? { rows: [] },
    );
    assert.is(applied[0]?.n, MIGRATIONS, 'each migration recorded once');
  } finally {
    await Promise.all(opened.map((o) => o.close()));
  }
}

test('six starts at once on an empty database each succeed, applying every migration once', async () => {
  const database = await createEmptyTestDatabase({ server, prefix: 'cl_migrate' });
  try {
    await startAtOnce(database.url, 6);
  } finally {
    await database.close();
  }
});

test('the same through PgBouncer in transaction mode', async () => {
  if (!bouncer) {
    console.warn('pgbouncer is not installed: skipped');
    return;
  }
  const database = await createEmptyTestDatabase({ server, prefix: 'cl_migrate' });
  try {
    await startAtOnce(bouncer.through(database.url), 6);
  } finally {
    await database.close();
  }
});

test.run();
