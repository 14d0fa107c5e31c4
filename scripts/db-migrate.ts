/**
 * `pnpm db:migrate`: apply the committed migrations to DATABASE_URL (a postgres:// URL, or
 * pglite:<directory> for an embedded database; the gateway reads it the same way) and say how
 * many were applied. Exits 2 for a missing or malformed DATABASE_URL, 1 when the database cannot
 * be migrated, each with a message that never prints a password.
 */
import {
  DATABASE_URL_FORMS,
  DatabaseUrlError,
  describeError,
  describeTarget,
  migrate,
  openDatabase,
  parseDatabaseUrl,
} from '../packages/db/src/index.ts';

const raw = process.env.DATABASE_URL;
if (raw === undefined || raw.trim() === '') {
  console.error(`db:migrate: DATABASE_URL is not set; it must be ${DATABASE_URL_FORMS}`);
  process.exit(2);
}
let target: ReturnType<typeof parseDatabaseUrl>;
try {
  // Relative pglite: directories are relative to where the command was typed.
  target = parseDatabaseUrl(raw, process.env.INIT_CWD ?? process.cwd());
} catch (error) {
  if (!(error instanceof DatabaseUrlError)) throw error;
  console.error(`db:migrate: ${error.message}`);
  process.exit(2);
}
const where = describeTarget(target);
const started = performance.now();
try {
  const { db, close } = await openDatabase(target, { poolSize: 1 });
  let result: Awaited<ReturnType<typeof migrate>>;
  try {
    result = await migrate(db);
  } finally {
    await close();
  }
  const ms = Math.round(performance.now() - started);
  const applied =
    result.applied === 0
      ? 'no migration to apply'
      : `applied ${result.applied} migration${result.applied === 1 ? '' : 's'}`;
  console.log(`db:migrate: ${where}: ${applied}, ${result.total} in total (${ms} ms)`);
} catch (error) {
  const { code, message } = describeError(error);
  console.error(
    `db:migrate: could not migrate ${where}: ${code && !message.includes(code) ? `${code}: ` : ''}${message}`,
  );
  process.exit(1);
}
