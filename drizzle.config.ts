import { defineConfig } from 'drizzle-kit';

// DATABASE_URL is a postgres:// URL, or a PGlite data directory (the embedded default of `pnpm start`).
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const embedded = !/^postgres(ql)?:\/\//i.test(url);

export default defineConfig({
  dialect: 'postgresql',
  schema: './packages/db/src/schema',
  out: './packages/db/migrations',
  ...(embedded ? { driver: 'pglite' as const } : {}),
  dbCredentials: { url },
});
