import { sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { NIL_UUID } from '../schema/index.ts';
import { hashSecret } from './api-keys.ts';
import { preparedStatement } from './prepared-statement.ts';

/** A model as `GET /v1/models` lists it. */
export interface ListedModel {
  /** The alias clients send as `model`. */
  alias: string;
  /** When the deployment was created, in whole seconds since the epoch. */
  created: number;
}

export interface ListModelsOptions {
  /**
   * True hides models with a `realtime` deny rule; false shows only those; omitted ignores rules.
   * @default undefined
   */
  availableForRealtime?: boolean;
}

/*
 * One statement: the key's digest and the realtime filter (or null). A live inference key of a
 * live user yields at least one row (alias null when it reaches nothing); any other key none.
 * The system key and platform keys are not inference keys here, as in dwctl's listing.
 */
const REALTIME = sql`${sql.placeholder('realtime')}::boolean`;

const listModelsStatement = preparedStatement<{ hash: string; realtime: boolean | null }>(
  () => sql`
with caller as (
  select k.user_id
  from api_keys k
  join users u on u.id = k.user_id
  where k.secret_hash = ${sql.placeholder('hash')}::text
    and k.is_deleted = false
    and u.is_deleted = false
    and k.purpose in ('realtime', 'batch', 'playground')
  limit 1
)
select m.alias, m.created
from caller
left join lateral (
  select d.alias, floor(extract(epoch from min(d.created_at)))::bigint::text as created
  from deployed_models d
  where d.deleted = false
    and d.status = 'active'
    and exists (
      select 1 from deployment_groups dg
      where dg.deployment_id = d.id
        and (
          dg.group_id in (select ug.group_id from user_groups ug where ug.user_id = caller.user_id)
          or (dg.group_id = ${NIL_UUID}::uuid
              and caller.user_id <> ${NIL_UUID}::uuid)
        )
    )
    and (${REALTIME} is null or ${REALTIME} <> exists (
      select 1 from model_traffic_rules r
      where r.deployed_model_id = d.id and r.action = 'deny' and r.api_key_purpose = 'realtime'
    ))
  group by d.alias
) m on true`,
  { name: 'list_models_for_key' },
);

/**
 * The models a key's owner reaches (through their groups or Everyone; live and active), sorted by
 * alias; null when the key is not a live inference key of a live user.
 */
export async function listModelsForKey(
  db: Database,
  secret: string,
  options: ListModelsOptions = {},
): Promise<ListedModel[] | null> {
  const rows = rowsOf<{ alias: string | null; created: string | null }>(
    await listModelsStatement(db, { hash: hashSecret(secret), realtime: options.availableForRealtime ?? null }),
  );
  if (rows.length === 0) return null;
  const models: ListedModel[] = [];
  for (const row of rows) {
    if (row.alias !== null) models.push({ alias: row.alias, created: Number(row.created) });
  }
  // By code unit, not by the database's collation, so the order is the same everywhere.
  return models.sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
}
