import { defineConfig } from 'drizzle-kit';
import { DatabaseUrlError, maskUrl, parseDatabaseUrl } from './packages/db/src/database-url.ts';

/*
 * DATABASE_URL is read by the same parser as the gateway and `pnpm db:migrate`: a postgres:// URL,
 * or pglite:<directory>. Commands that only read the schema (generate, check) need none; commands
 * that connect refuse to run without a valid one instead of falling back to a default database.
 */
const CONNECTING = new Set(['migrate', 'push', 'pull', 'introspect', 'studio']);
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-')) ?? '';
const connecting = CONNECTING.has(command);

function refuse(message: string): never {
  console.error(`drizzle-kit ${command}: ${message}`);
  process.exit(2);
}

const raw = process.env.DATABASE_URL?.trim() ?? '';
let target: ReturnType<typeof parseDatabaseUrl> | null = null;
if (raw !== '') {
  try {
    target = parseDatabaseUrl(raw);
  } catch (error) {
    if (!(error instanceof DatabaseUrlError)) throw error;
    if (connecting) refuse(error.message);
  }
} else if (connecting) {
  refuse('DATABASE_URL is not set (a postgres:// URL, or pglite:<directory> for an embedded database)');
}

if (connecting && target) {
  const where = target.kind === 'postgres' ? maskUrl(target.url) : target.dataDir;
  // drizzle-kit exits 1 without a word when it cannot reach the database.
  process.on('exit', (code) => {
    if (code !== 0) {
      console.error(
        `\ndrizzle-kit ${command} failed against ${where}. Is the database up and DATABASE_URL right? ` +
          '`pnpm db:migrate` applies the same migrations and prints the cause.',
      );
    }
  });
}

export default defineConfig({
  dialect: 'postgresql',
  schema: './packages/db/src/schema',
  out: './packages/db/migrations',
  ...(target?.kind === 'embedded' ? { driver: 'pglite' as const, dbCredentials: { url: target.dataDir } } : {}),
  ...(target?.kind === 'postgres' ? { dbCredentials: { url: target.url } } : {}),
});
