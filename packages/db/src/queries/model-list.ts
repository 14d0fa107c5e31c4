import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { hashSecret } from './api-keys.ts';
import { positionalStatement } from './positional.ts';

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
 * One statement. $1: the key's digest; $2: the realtime filter or null. A live inference key of a
 * live user yields at least one row (alias null when it reaches nothing); any other key none.
 * The system key and platform keys are not inference keys here, as in dwctl's listing.
 */
const LIST_MODELS_SQL = `
with caller as (
  select k.user_id
  from api_keys k
  join users u on u.id = k.user_id
  where k.secret_hash = $1::text
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
          or (dg.group_id = '00000000-0000-0000-0000-000000000000'::uuid
              and caller.user_id <> '00000000-0000-0000-0000-000000000000'::uuid)
        )
    )
    and ($2::boolean is null or $2::boolean <> exists (
      select 1 from model_traffic_rules r
      where r.deployed_model_id = d.id and r.action = 'deny' and r.api_key_purpose = 'realtime'
    ))
  group by d.alias
) m on true`;

const listModelsStatement = positionalStatement(LIST_MODELS_SQL);

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
    await listModelsStatement(db, [hashSecret(secret), options.availableForRealtime ?? null]),
  );
  if (rows.length === 0) return null;
  const models: ListedModel[] = [];
  for (const row of rows) {
    if (row.alias !== null) models.push({ alias: row.alias, created: Number(row.created) });
  }
  // By code unit, not by the database's collation, so the order is the same everywhere.
  return models.sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
}
