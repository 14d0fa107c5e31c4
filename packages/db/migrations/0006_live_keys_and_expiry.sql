ALTER TABLE "api_keys" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_expires_at_finite" CHECK ("api_keys"."expires_at" is null or isfinite("api_keys"."expires_at"));--> statement-breakpoint
-- The one definition of a key its holder may present: not deleted, and its owner not deleted.
-- `expired` says whether the database clock has reached `expires_at`; a live key is a known key
-- that is not expired. A child key (a hidden Flex or batch key that bills its parent's cap scope)
-- exists only for its parent, so its `expires_at` is the earlier of its own and its parent's: a
-- parent that expired does not live on through its children. Every reader of a presented key (the diagnosis, the access checks, the
-- model list, the stub router) goes through here, so no reader can disagree about a deleted
-- owner or an expiry. Set-returning SQL without SET, STRICT or SECURITY DEFINER, so the planner
-- inlines it into its caller's statement (one plan, no function executor per call); every name
-- in it is qualified instead, so no search_path can redirect it.
CREATE FUNCTION "known_api_key"(p_secret_hash text)
RETURNS TABLE (
  id uuid, user_id uuid, name text, purpose text, parent_api_key_id uuid, expires_at timestamptz, expired boolean
) LANGUAGE sql STABLE AS $$
  SELECT k.id, k.user_id, k.name::pg_catalog.text, k.purpose::pg_catalog.text, k.parent_api_key_id,
         -- LEAST ignores nulls: null only when neither expires.
         LEAST(k.expires_at, p.expires_at),
         COALESCE(LEAST(k.expires_at, p.expires_at) OPERATOR(pg_catalog.<=) pg_catalog.now(), false)
  FROM public.api_keys k
  JOIN public.users u ON u.id OPERATOR(pg_catalog.=) k.user_id
  LEFT JOIN public.api_keys p ON p.id OPERATOR(pg_catalog.=) k.parent_api_key_id
  WHERE k.secret_hash OPERATOR(pg_catalog.=) p_secret_hash
    AND k.is_deleted OPERATOR(pg_catalog.=) false
    AND u.is_deleted OPERATOR(pg_catalog.=) false
$$;
--> statement-breakpoint
-- The one definition of "this user reaches this deployment": the deployment is live (not
-- soft-deleted) and granted to one of the user's groups, or to Everyone, which every user but the
-- system user belongs to implicitly. One row (true) when it does, none otherwise: callers ask
-- `exists (select 1 from user_reaches_deployment(…))`. Inlined like `known_api_key`.
CREATE FUNCTION "user_reaches_deployment"(p_user_id uuid, p_deployment_id uuid)
RETURNS SETOF boolean LANGUAGE sql STABLE AS $$
  SELECT true
  FROM public.deployed_models d
  JOIN public.deployment_groups dg ON dg.deployment_id OPERATOR(pg_catalog.=) d.id
  WHERE d.id OPERATOR(pg_catalog.=) p_deployment_id
    AND d.deleted OPERATOR(pg_catalog.=) false
    AND (
      EXISTS (
        SELECT 1 FROM public.user_groups ug
        WHERE ug.user_id OPERATOR(pg_catalog.=) p_user_id AND ug.group_id OPERATOR(pg_catalog.=) dg.group_id
      )
      OR (dg.group_id OPERATOR(pg_catalog.=) '00000000-0000-0000-0000-000000000000'::pg_catalog.uuid
          AND p_user_id OPERATOR(pg_catalog.<>) '00000000-0000-0000-0000-000000000000'::pg_catalog.uuid)
    )
  LIMIT 1
$$;
--> statement-breakpoint
-- A router caches its key set: a changed expiry must reach it like any other admission column.
CREATE OR REPLACE FUNCTION "api_keys_notify_config_change"() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  relevant boolean := false;
BEGIN
  IF TG_OP = 'INSERT' THEN
    relevant := EXISTS (SELECT 1 FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    relevant := EXISTS (SELECT 1 FROM old_rows);
  ELSE
    relevant := EXISTS (
      SELECT 1
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
      WHERE o.secret_hash IS DISTINCT FROM n.secret_hash
         OR o.purpose IS DISTINCT FROM n.purpose
         OR o.user_id IS DISTINCT FROM n.user_id
         OR o.requests_per_second IS DISTINCT FROM n.requests_per_second
         OR o.burst_size IS DISTINCT FROM n.burst_size
         OR o.is_deleted IS DISTINCT FROM n.is_deleted
         OR o.hidden IS DISTINCT FROM n.hidden
         OR o.spend_limit IS DISTINCT FROM n.spend_limit
         OR o.spend_limit_interval IS DISTINCT FROM n.spend_limit_interval
         OR o.parent_api_key_id IS DISTINCT FROM n.parent_api_key_id
         OR o.expires_at IS DISTINCT FROM n.expires_at
    );
  END IF;
  IF relevant THEN
    PERFORM pg_notify('auth_config_changed',
      'api_keys:' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- The diagnosis of migration 0004, now on the shared definitions above: a key of a deleted owner
-- is unknown (no row), an expired key is found with `expired` set (its holder is told so, and
-- nothing else), and access is `user_reaches_deployment`. Dropped first: its columns grow.
DROP FUNCTION "explain_denial"(text, text, text);
--> statement-breakpoint
CREATE FUNCTION "explain_denial"(p_secret_hash text, p_alias text, p_rule_purpose text)
RETURNS TABLE (
  key_id text, user_id text, key_name text, purpose text, expired boolean, expires_at text,
  has_access boolean, denied_purpose text, balance text, balance_exempt boolean, model_free boolean,
  root_id text, spend_limit text, spend_limit_interval text, window_spend text, window_current boolean,
  resets_at text
) LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  select k.id::text as key_id,
         k.user_id::text as user_id,
         k.name as key_name,
         k.purpose as purpose,
         k.expired as expired,
         -- Whole seconds in UTC, whatever the session's TimeZone.
         to_char(k.expires_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as expires_at,
         case
           when p_alias is null then null
           when d.id is null then false
           else exists (select 1 from user_reaches_deployment(k.user_id, d.id))
         end as has_access,
         case when d.deleted = false then (
           select mtr.api_key_purpose
           from model_traffic_rules mtr
           where mtr.deployed_model_id = d.id
             and mtr.api_key_purpose = coalesce(p_rule_purpose, k.purpose)
             and mtr.action = 'deny'
         )::text end as denied_purpose,
         coalesce(c.balance, 0)::text as balance,
         coalesce(f.enabled, false) as balance_exempt,
         case when p_alias is null then null else not exists (
           select 1
           from model_tariffs t
           where t.deployed_model_id = d.id
             and t.valid_until is null
             and (t.input_price_per_token > 0 or t.output_price_per_token > 0)
         ) end as model_free,
         root.id::text as root_id,
         root.spend_limit::text as spend_limit,
         root.spend_limit_interval::text as spend_limit_interval,
         coalesce(ck.window_spend, 0)::text as window_spend,
         api_key_cap_window_current(ck.window_started_at, root.spend_limit_interval) as window_current,
         to_char(api_key_cap_window_resets_at(root.spend_limit_interval) at time zone 'utc',
                 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as resets_at
  from known_api_key(p_secret_hash) k
  join api_keys root on root.id = coalesce(k.parent_api_key_id, k.id)
  left join api_key_spend_checkpoints ck on ck.api_key_id = root.id
  left join user_balance_checkpoints c on c.user_id = k.user_id
  left join user_feature_flags f on f.user_id = k.user_id and f.feature_flag = 'ALLOW_NEGATIVE_BALANCE'
  -- The alias is unique across soft-deleted rows too: at most one deployment.
  left join deployed_models d on d.alias = p_alias
  limit 1;
END;
$$;
