import { type SQL, sql } from 'drizzle-orm';

/*
 * The access predicates of the single-purpose queries, on the definitions migration 0006 keeps in
 * the database (`known_api_key`, `user_reaches_deployment`), which `explain_denial()` and the model
 * list read too: there is one copy of each rule, in SQL.
 */

/**
 * The key presented as `secretHash`, if its holder may still present it: a set of at most one row
 * (`id`, `user_id`, `name`, `purpose`, `parent_api_key_id`, `expires_at`, `expired`) for a key
 * that is not deleted and whose owner is not; live when `expired` is false.
 */
export function knownApiKey(secretHash: SQL): SQL {
  return sql`known_api_key(${secretHash})`;
}

/**
 * True when the user reaches a live deployment with this alias through a group: one of their
 * own, or Everyone (which the system user is not part of). An unknown alias is false.
 */
export function userReachesAlias(userId: SQL, alias: SQL): SQL<boolean> {
  return sql<boolean>`exists (
    select 1
    from deployed_models d
    where d.alias = ${alias}
      and exists (select 1 from user_reaches_deployment(${userId}, d.id))
  )`;
}

/** The purpose of the first `deny` rule on this (non-deleted) alias that matches `purpose`, or null. */
export function deniedPurpose(purpose: SQL, alias: SQL): SQL<string | null> {
  return sql<string | null>`(
    select mtr.api_key_purpose
    from model_traffic_rules mtr
    join deployed_models d on d.id = mtr.deployed_model_id
    where d.alias = ${alias}
      and d.deleted = false
      and mtr.action = 'deny'
      and mtr.api_key_purpose = ${purpose}
    limit 1
  )`;
}

/**
 * Postgres text cannot hold U+0000, so no stored alias contains it; such a value is answered
 * without a query (sending it would fail with "invalid byte sequence").
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000');
}

/** Longest alias looked up, in UTF-8 bytes; longer model names are unknown without a query. */
export const MAX_ALIAS_BYTES = 1024;

/**
 * Whether a model name can be an alias at all: storable text of at most `MAX_ALIAS_BYTES`. Any
 * other is answered as an unknown model without being sent to Postgres (a multi-megabyte `model`
 * would otherwise cost a round trip carrying it, and a sequential comparison against the index).
 */
export function isPossibleAlias(value: string): boolean {
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the length alone rules out most.
  return value.length <= MAX_ALIAS_BYTES && Buffer.byteLength(value) <= MAX_ALIAS_BYTES && isStorableText(value);
}
