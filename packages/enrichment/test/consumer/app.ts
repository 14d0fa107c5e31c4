// A TypeScript consumer of the installed packages, typechecked with strict nodenext settings.
import { type Database, migrate, openDatabase, type User } from '@control-layer/db';
import {
  type AccessVerdict,
  type ErrorEnrichmentOptions,
  errorEnrichment,
  RequestTooLargeError,
  takeWholeBody,
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
  // The body streams on through ctx.req; a small one the middleware holds whole can be taken at once.
  const bytes: Buffer | null = takeWholeBody(ctx.req);
  ctx.status = 403;
  ctx.body = { size: bytes?.length ?? 0, limit: new RequestTooLargeError(1024).limitBytes };
});
const verdict: AccessVerdict = await validateApiKeyModelAccess(db satisfies Database, 'sk-x', 'chat-model');
if (!verdict.ok) console.log(verdict.code satisfies string, verdict.message);
const nobody: User | null = null;
console.log(nobody);
await close();
