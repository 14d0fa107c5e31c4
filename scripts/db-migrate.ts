/**
 * `pnpm db:migrate`: apply the committed migrations to DATABASE_URL (a Postgres URL, or a PGlite
 * directory). Exits non-zero with a readable message when the database cannot be reached.
 */
import { migrate, openDatabase } from '../packages/db/src/index.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('db:migrate: DATABASE_URL is not set (a postgres:// URL or a PGlite data directory)');
  process.exit(2);
}
const where = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
const started = performance.now();
try {
  const { db, close } = await openDatabase(url, { poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await close();
  }
  console.log(`db:migrate: ${where} is up to date (${Math.round(performance.now() - started)} ms)`);
} catch (error) {
  // Drizzle wraps driver errors ("Failed query: ..."); the innermost cause says what went wrong.
  let root: unknown = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  const reason = root instanceof Error ? root.message || root.name : String(root);
  console.error(`db:migrate: could not migrate ${where}: ${reason}`);
  process.exit(1);
}
