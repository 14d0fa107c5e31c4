// A TypeScript consumer of the installed packages, typechecked with strict nodenext settings.
import { type Database, migrate, openDatabase, type User } from '@control-layer/db';
import {
  type AccessVerdict,
  type ErrorEnrichmentOptions,
  errorEnrichment,
  validateApiKeyModelAccess,
} from '@control-layer/enrichment';
import Koa from 'koa';

const { db, close } = await openDatabase(process.env.DATABASE_URL ?? 'memory://');
await migrate(db);
const options: ErrorEnrichmentOptions = {
  db,
  timeoutMs: 500,
  onEnriched: ({ code, status }) => console.log(code, status),
};
const app = new Koa();
app.use(errorEnrichment(options));
app.use((ctx) => {
  // Declared by the middleware for every consumer: the exact request body bytes.
  const bytes: Buffer | undefined = ctx.request.bodyBytes;
  ctx.status = 403;
  ctx.body = { size: bytes?.length ?? 0 };
});
const verdict: AccessVerdict = await validateApiKeyModelAccess(db satisfies Database, 'sk-x', 'chat-model');
if (!verdict.ok) console.log(verdict.code satisfies string, verdict.message);
const nobody: User | null = null;
console.log(nobody);
await close();
