import { type SQL, sql } from 'drizzle-orm';
import { NIL_UUID } from '../schema/index.ts';

/*
 * The two access predicates of the single-purpose queries. `explain_denial()` (migration 0004)
 * states the same two checks against the deployment it joins once: change them together.
 */

/**
 * True when the user reaches a non-deleted deployment with this alias through a group: one of
 * their own, or Everyone (which the system user is not part of). An unknown alias is false.
 */
export function userReachesAlias(userId: SQL, alias: SQL): SQL<boolean> {
  return sql<boolean>`exists (
    select 1
    from deployed_models d
    join deployment_groups dg on dg.deployment_id = d.id
    where d.alias = ${alias}
      and d.deleted = false
      and (
        dg.group_id in (select ug.group_id from user_groups ug where ug.user_id = ${userId})
        or (dg.group_id = ${NIL_UUID}::uuid and ${userId} <> ${NIL_UUID}::uuid)
      )
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
