import { sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { INFERENCE_PURPOSES } from '../schema/index.ts';
import { hashSecret } from './api-keys.ts';
import { type DenialFacts, parseDenialFacts } from './explain-denial.ts';
import { preparedStatement } from './prepared-statement.ts';

/** A model as `GET /v1/models` lists it. */
export interface ListedModel {
  /** The alias clients send as `model`. */
  alias: string;
  /** When the deployment was created, in whole seconds since the epoch. */
  created: number;
  /** The diagnosis's facts for this key and this model, as a denied request to it would read them. */
  facts: DenialFacts;
}

/**
 * What the listing found for a key: not a known key (unknown, deleted, of a deleted owner), a
 * known key that cannot list (expired, or not an inference key: `key` says which), or the list.
 */
export type ModelListing =
  | { kind: 'unknown' }
  | { kind: 'refused'; key: DenialFacts }
  | { kind: 'listed'; key: DenialFacts; models: ListedModel[] };

export interface ListModelsOptions {
  /**
   * True hides models with a `realtime` deny rule; false shows only those; omitted ignores rules.
   * @default undefined
   */
  availableForRealtime?: boolean;
}

/*
 * One statement, whatever the number of models: the key's facts from `explain_denial` without an
 * alias (no row for a key that is not known), and for a live inference key each model its owner
 * reaches (`user_reaches_deployment`), active, with `explain_denial`'s facts for that alias: the
 * very facts a denied request to it would be diagnosed on. The system key and platform keys are
 * not inference keys here, as in dwctl's listing.
 */
const REALTIME = sql`${sql.placeholder('realtime')}::boolean`;
const HASH = sql`${sql.placeholder('hash')}::text`;

const listModelsStatement = preparedStatement<{ hash: string; realtime: boolean | null }>(
  () => sql`
select k.facts as key_facts, m.alias, m.created, m.facts
from (
  select row_to_json(f)::text as facts, f.user_id::uuid as user_id, f.purpose, f.expired
  from explain_denial(${HASH}, null, null) f
) k
left join lateral (
  select d.alias,
         floor(extract(epoch from d.created_at))::bigint::text as created,
         (select row_to_json(e)::text from explain_denial(${HASH}, d.alias, null) e) as facts
  from deployed_models d
  where not k.expired
    and k.purpose in ('realtime', 'batch', 'playground')
    and d.status = 'active'
    and exists (select 1 from user_reaches_deployment(k.user_id, d.id))
    and (${REALTIME} is null or ${REALTIME} <> exists (
      select 1 from model_traffic_rules r
      where r.deployed_model_id = d.id and r.action = 'deny' and r.api_key_purpose = 'realtime'
    ))
) m on true`,
  { name: 'list_models_for_key' },
);

/**
 * The models a key's owner reaches (through their groups or Everyone; live and active), sorted by
 * alias, each with the facts its availability is judged on. A key that is expired or not an
 * inference key is `refused` with its facts; one that is not known, `unknown`.
 */
export async function listModelsForKey(
  db: Database,
  secret: string,
  options: ListModelsOptions = {},
): Promise<ModelListing> {
  const rows = rowsOf<{ key_facts: string; alias: string | null; created: string | null; facts: string | null }>(
    await listModelsStatement(db, { hash: hashSecret(secret), realtime: options.availableForRealtime ?? null }),
  );
  const [first] = rows;
  if (!first) return { kind: 'unknown' };
  const key = parseDenialFacts(first.key_facts);
  if (key.expired || !INFERENCE_PURPOSES.includes(key.purpose)) return { kind: 'refused', key };
  const models: ListedModel[] = [];
  for (const row of rows) {
    if (row.alias !== null && row.facts !== null) {
      models.push({ alias: row.alias, created: Number(row.created), facts: parseDenialFacts(row.facts) });
    }
  }
  // By code unit, not by the database's collation, so the order is the same everywhere.
  models.sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
  return { kind: 'listed', key, models };
}
