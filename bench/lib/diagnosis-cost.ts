/**
 * The diagnosis statement alone, with the checks of before (access, modality, balance: dwctl
 * 8.50's three) next to the one of now (those plus the purpose gate, the exemption flag, free
 * models and the cap scope), run back to back on one connection against the same keys.
 */
import { type Database, explainDenial, hashSecret, openDatabase } from '@control-layer/db';
import { type Logger, sql } from 'drizzle-orm';
import pg from 'pg';

/** The statement of the three-check diagnosis, as it was before the cap, flag and tariff checks. */
function oldStatement(secret: string, alias: string) {
  return sql`
    select k.user_id, k.purpose,
      exists (
        select 1 from deployed_models d
        join deployment_groups dg on dg.deployment_id = d.id
        where d.alias = ${alias} and d.deleted = false
          and (dg.group_id in (select ug.group_id from user_groups ug where ug.user_id = k.user_id)
               or (dg.group_id = '00000000-0000-0000-0000-000000000000'::uuid
                   and k.user_id <> '00000000-0000-0000-0000-000000000000'::uuid))
      ) as has_access,
      (select mtr.api_key_purpose from model_traffic_rules mtr
       join deployed_models d on d.id = mtr.deployed_model_id
       where d.alias = ${alias} and d.deleted = false and mtr.action = 'deny' and mtr.api_key_purpose = k.purpose
       limit 1) as denied_purpose,
      coalesce((select c.balance from user_balance_checkpoints c where c.user_id = k.user_id), 0)::text as balance
    from api_keys k
    where k.secret_hash = ${hashSecret(secret)} and k.is_deleted = false
    limit 1`;
}

export type DiagnosisVariant = 'before: 3 checks' | 'now: 5 checks';
export const DIAGNOSIS_VARIANTS: readonly DiagnosisVariant[] = ['before: 3 checks', 'now: 5 checks'];

/** Microseconds per diagnosis, averaged over `iterations` sequential calls cycling through `secrets`. */
export async function timeDiagnoses(
  db: Database,
  variant: DiagnosisVariant,
  secrets: string[],
  alias: string,
  iterations: number,
): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const secret = secrets[i % secrets.length] ?? '';
    if (variant === 'now: 5 checks') await explainDenial(db, secret, alias);
    else await db.execute(oldStatement(secret, alias));
  }
  return Number(process.hrtime.bigint() - started) / 1000 / iterations;
}

/** The statement text and parameters each variant sends for `secret`, caught by a Drizzle logger. */
async function captured(url: string, variant: DiagnosisVariant, secret: string, alias: string) {
  const seen: { query: string; params: unknown[] }[] = [];
  const logger: Logger = { logQuery: (query, params) => void seen.push({ query, params }) };
  const { db, close } = await openDatabase(url, { poolSize: 1, logger });
  try {
    if (variant === 'now: 5 checks') await explainDenial(db, secret, alias);
    else await db.execute(oldStatement(secret, alias));
  } finally {
    await close();
  }
  const [statement] = seen;
  if (!statement || seen.length !== 1) throw new Error(`${variant}: expected one statement, saw ${seen.length}`);
  return statement;
}

/**
 * Server time of one diagnosis (planning plus execution, as Postgres reports them under EXPLAIN
 * ANALYZE), median of `repeats`: what the statement costs the database, free of the client's
 * scheduling on a busy machine.
 */
export async function serverMicros(
  url: string,
  variant: DiagnosisVariant,
  secrets: string[],
  alias: string,
  repeats: number,
): Promise<number> {
  const statements = await Promise.all(secrets.map((secret) => captured(url, variant, secret, alias)));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const times: number[] = [];
  try {
    for (let i = 0; i < repeats; i++) {
      const { query, params } = statements[i % statements.length] ?? { query: 'select 1', params: [] };
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        `explain (analyze, timing off, summary on) ${query}`,
        params,
      );
      const ms = (label: string) =>
        Number(new RegExp(`${label}: ([\\d.]+) ms`).exec(plan.rows.map((r) => r['QUERY PLAN']).join('\n'))?.[1] ?? NaN);
      times.push((ms('Planning Time') + ms('Execution Time')) * 1000);
    }
  } finally {
    await client.end();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}
