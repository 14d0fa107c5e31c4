-- Spending-cap windows are calendar-aligned in UTC, not rolling: a daily cap resets at UTC
-- midnight, a weekly one on Monday 00:00 UTC, a monthly one on the 1st. Nothing stores a window's
-- end: "same window?" compares the starts of the windows two instants fall in. Every function
-- takes the instant explicitly (default now()), so tests and backfills can name the time.
-- A null interval is a one-off cap: one window that never ends ('-infinity' as its start).
-- These three are single-expression SQL functions without a SET clause, so the planner inlines
-- them into the statements that call them (a SET clause or a non-inlined call costs a function
-- executor per call, about a hundred microseconds per diagnosis); every name in them, operators
-- included, is qualified instead, so no search_path can redirect them.
CREATE FUNCTION "api_key_cap_window_start"(cap_interval text, at timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN at IS NULL THEN NULL
    WHEN cap_interval OPERATOR(pg_catalog.=) 'daily'
      THEN pg_catalog.timezone('utc', pg_catalog.date_trunc('day', pg_catalog.timezone('utc', at)))
    WHEN cap_interval OPERATOR(pg_catalog.=) 'weekly'
      THEN pg_catalog.timezone('utc', pg_catalog.date_trunc('week', pg_catalog.timezone('utc', at)))
    WHEN cap_interval OPERATOR(pg_catalog.=) 'monthly'
      THEN pg_catalog.timezone('utc', pg_catalog.date_trunc('month', pg_catalog.timezone('utc', at)))
    ELSE '-infinity'::pg_catalog.timestamptz
  END
$$;
--> statement-breakpoint
-- dwctl's predicate: false without a checkpoint, true for a one-off cap, else whether
-- `started_at` and `at` fall in the same calendar window.
CREATE FUNCTION "api_key_cap_window_current"(started_at timestamptz, cap_interval text, at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN started_at IS NULL THEN false
    WHEN cap_interval IS NULL THEN true
    ELSE public.api_key_cap_window_start(cap_interval, started_at)
         OPERATOR(pg_catalog.=) public.api_key_cap_window_start(cap_interval, at)
  END
$$;
--> statement-breakpoint
-- The next boundary after `at` for a windowed cap; null for a one-off cap. Computed on UTC
-- wall-clock time, so the session's TimeZone never shifts a day or a month.
CREATE FUNCTION "api_key_cap_window_resets_at"(cap_interval text, at timestamptz DEFAULT pg_catalog.now())
RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN cap_interval OPERATOR(pg_catalog.=) 'daily' THEN pg_catalog.timezone('utc',
      pg_catalog.date_trunc('day', pg_catalog.timezone('utc', at)) OPERATOR(pg_catalog.+) '1 day'::pg_catalog.interval)
    WHEN cap_interval OPERATOR(pg_catalog.=) 'weekly' THEN pg_catalog.timezone('utc',
      pg_catalog.date_trunc('week', pg_catalog.timezone('utc', at)) OPERATOR(pg_catalog.+) '1 week'::pg_catalog.interval)
    WHEN cap_interval OPERATOR(pg_catalog.=) 'monthly' THEN pg_catalog.timezone('utc',
      pg_catalog.date_trunc('month', pg_catalog.timezone('utc', at)) OPERATOR(pg_catalog.+) '1 month'::pg_catalog.interval)
    ELSE NULL
  END
$$;
--> statement-breakpoint
-- Where incoming usage falls against a scope's current window: 1 a later window (roll over),
-- 0 the same window (add), -1 an older one (counts toward the lifetime total only).
CREATE FUNCTION "api_key_spend_window_order"(root_id uuid, current_start timestamptz, incoming timestamptz)
RETURNS integer LANGUAGE sql STABLE
SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT CASE WHEN w.incoming_start > w.current_start THEN 1 WHEN w.incoming_start = w.current_start THEN 0 ELSE -1 END
  FROM (
    SELECT public.api_key_cap_window_start(k.spend_limit_interval, incoming) AS incoming_start,
           public.api_key_cap_window_start(k.spend_limit_interval, current_start) AS current_start
    FROM public.api_keys k
    WHERE k.id = root_id
  ) w
$$;
--> statement-breakpoint
-- Usage rows fold into their cap scope's checkpoint in the statement that inserts them, whoever
-- inserts (as the balance does). Only `usage` rows with an `api_key_id` whose scope root has a
-- cap at that moment count; the system user's usage never does. Each row's own `created_at` says
-- which window it belongs to, so the roll is lazy (the first usage after a boundary starts the
-- new window) and exact at a boundary; rows of a window older than the checkpoint's count only
-- toward `total_spend`. ON CONFLICT DO UPDATE re-reads the checkpoint under its row lock, so
-- concurrent writers on one scope (root and child alike) serialise and lose nothing.
-- A scope whose window spend reaches its limit in this statement sends `api_key_spend_cap:`
-- (dwctl's payload), so a router drops the scope's paid models at once.
CREATE FUNCTION "credits_transactions_fold_into_spend"() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  crossed boolean;
BEGIN
  -- Most statements (grants, purchases, bulk imports) bill no key: skip the join for them.
  IF NOT EXISTS (SELECT 1 FROM inserted i WHERE i.api_key_id IS NOT NULL AND i.transaction_type = 'usage') THEN
    RETURN NULL;
  END IF;
  WITH billed AS (
    SELECT root.id AS root_id, i.amount, i.created_at,
           public.api_key_cap_window_start(root.spend_limit_interval, i.created_at) AS window_start
    FROM inserted i
    JOIN public.api_keys k ON k.id = i.api_key_id
    JOIN public.api_keys root ON root.id = COALESCE(k.parent_api_key_id, k.id)
    WHERE i.transaction_type = 'usage'
      AND i.user_id <> '00000000-0000-0000-0000-000000000000'
      AND root.spend_limit IS NOT NULL
  ), newest AS (
    SELECT b.*, max(b.window_start) OVER (PARTITION BY b.root_id) AS newest_start FROM billed b
  ), delta AS (
    SELECT n.root_id,
           sum(n.amount) AS total_delta,
           sum(n.amount) FILTER (WHERE n.window_start = n.newest_start) AS window_delta,
           min(n.created_at) FILTER (WHERE n.window_start = n.newest_start) AS window_from
    FROM newest n
    GROUP BY n.root_id
  ), folded AS (
    INSERT INTO public.api_key_spend_checkpoints AS c (api_key_id, total_spend, window_spend, window_started_at, updated_at)
    SELECT d.root_id, d.total_delta, d.window_delta, d.window_from, now()
    FROM delta d
    -- A stable order, so two statements lock checkpoints in the same order (no deadlock).
    ORDER BY d.root_id
    ON CONFLICT (api_key_id) DO UPDATE SET
      total_spend = c.total_spend + EXCLUDED.total_spend,
      window_spend = CASE public.api_key_spend_window_order(c.api_key_id, c.window_started_at, EXCLUDED.window_started_at)
        WHEN 1 THEN EXCLUDED.window_spend
        WHEN 0 THEN c.window_spend + EXCLUDED.window_spend
        ELSE c.window_spend
      END,
      window_started_at = CASE public.api_key_spend_window_order(c.api_key_id, c.window_started_at, EXCLUDED.window_started_at)
        WHEN 1 THEN EXCLUDED.window_started_at
        ELSE c.window_started_at
      END,
      updated_at = EXCLUDED.updated_at
    RETURNING c.api_key_id, c.window_spend
  )
  SELECT EXISTS (
    SELECT 1 FROM folded f
    JOIN delta d ON d.root_id = f.api_key_id
    JOIN public.api_keys root ON root.id = f.api_key_id
    WHERE f.window_spend >= root.spend_limit AND f.window_spend - d.window_delta < root.spend_limit
  ) INTO crossed;
  IF crossed THEN
    PERFORM pg_notify('auth_config_changed',
      'api_key_spend_cap:' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Fires after "credits_transactions_checkpoint" (triggers of one event run in name order).
CREATE TRIGGER "credits_transactions_spend_fold" AFTER INSERT ON "credits_transactions"
REFERENCING NEW TABLE AS "inserted"
FOR EACH STATEMENT EXECUTE FUNCTION "credits_transactions_fold_into_spend"();
--> statement-breakpoint
-- A balance crossing zero (either way) changes which keys the router admits: tell it, once per
-- statement, with dwctl's payload. Reads the checkpoints the ledger trigger has just folded.
CREATE FUNCTION "credits_transactions_notify_zero_crossing"() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF EXISTS (
    SELECT 1
    FROM (
      SELECT i.user_id,
             sum(CASE WHEN i.transaction_type IN ('purchase', 'admin_grant') THEN i.amount ELSE -i.amount END) AS delta
      FROM inserted i
      GROUP BY i.user_id
    ) d
    JOIN public.user_balance_checkpoints c ON c.user_id = d.user_id
    WHERE (c.balance > 0) <> (c.balance - d.delta > 0)
  ) THEN
    PERFORM pg_notify('auth_config_changed',
      'credits_transactions:' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "credits_transactions_zero_crossing_notify" AFTER INSERT ON "credits_transactions"
REFERENCING NEW TABLE AS "inserted"
FOR EACH STATEMENT EXECUTE FUNCTION "credits_transactions_notify_zero_crossing"();
--> statement-breakpoint
-- `<table>:<epoch micros>` on `auth_config_changed`, dwctl's payload, so a router listening there
-- reloads its key set and routes when a table it reads changes.
CREATE FUNCTION "notify_auth_config_changed"() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  PERFORM pg_notify('auth_config_changed',
    TG_TABLE_NAME || ':' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "deployed_models_notify" AFTER INSERT OR UPDATE OR DELETE ON "deployed_models"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
CREATE TRIGGER "user_groups_notify" AFTER INSERT OR DELETE ON "user_groups"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
CREATE TRIGGER "deployment_groups_notify" AFTER INSERT OR DELETE ON "deployment_groups"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
CREATE TRIGGER "model_traffic_rules_notify" AFTER INSERT OR UPDATE OR DELETE ON "model_traffic_rules"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
CREATE TRIGGER "inference_endpoints_notify" AFTER INSERT OR UPDATE OR DELETE ON "inference_endpoints"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
-- dwctl sends a JSON payload per row here; one `<table>:<micros>` per statement is enough to reload.
CREATE TRIGGER "model_tariffs_notify" AFTER INSERT OR UPDATE OR DELETE ON "model_tariffs"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
-- The exemption flag changes whom the balance stops.
CREATE TRIGGER "user_feature_flags_notify" AFTER INSERT OR UPDATE OR DELETE ON "user_feature_flags"
FOR EACH STATEMENT EXECUTE FUNCTION "notify_auth_config_changed"();
--> statement-breakpoint
-- api_keys: only when rows came or went, or an UPDATE changed a column the router reads (not
-- name, description or last_used, which change on every request in some deployments).
CREATE FUNCTION "api_keys_notify_config_change"() RETURNS trigger LANGUAGE plpgsql
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
CREATE TRIGGER "api_keys_notify_insert" AFTER INSERT ON "api_keys"
REFERENCING NEW TABLE AS "new_rows"
FOR EACH STATEMENT EXECUTE FUNCTION "api_keys_notify_config_change"();
--> statement-breakpoint
CREATE TRIGGER "api_keys_notify_update" AFTER UPDATE ON "api_keys"
REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows"
FOR EACH STATEMENT EXECUTE FUNCTION "api_keys_notify_config_change"();
--> statement-breakpoint
CREATE TRIGGER "api_keys_notify_delete" AFTER DELETE ON "api_keys"
REFERENCING OLD TABLE AS "old_rows"
FOR EACH STATEMENT EXECUTE FUNCTION "api_keys_notify_config_change"();
--> statement-breakpoint
-- The router's balance arm admits only live users: a user deleted or restored changes key sets.
CREATE FUNCTION "users_notify_deletion_change"() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.is_deleted IS DISTINCT FROM n.is_deleted) THEN
    PERFORM pg_notify('auth_config_changed',
      'users:' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "users_notify_update" AFTER UPDATE ON "users"
REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows"
FOR EACH STATEMENT EXECUTE FUNCTION "users_notify_deletion_change"();
--> statement-breakpoint
-- The whole diagnosis of a denied request (`explainDenial`), one call answering every check. It
-- lives in the database so that each connection plans it once and reuses the plan
-- (plan_cache_mode = force_generic_plan: every lookup is by a unique key, so one plan fits every
-- key and alias); sent as a plain statement it would be planned on every request, which costs
-- several times its execution. Nothing here depends on a named prepared statement, so it works
-- behind a transaction-mode pooler too.
CREATE FUNCTION "explain_denial"(p_secret_hash text, p_alias text, p_rule_purpose text)
RETURNS TABLE (
  key_id text, user_id text, purpose text, has_access boolean, denied_purpose text, balance text,
  balance_exempt boolean, model_free boolean, root_id text, spend_limit text, spend_limit_interval text,
  window_spend text, window_current boolean, resets_at text
) LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  select k.id::text as key_id,
         k.user_id::text as user_id,
         k.purpose::text as purpose,
         case
           when p_alias is null then null
           when d.id is null or d.deleted then false
           else exists (
             select 1
             from deployment_groups dg
             where dg.deployment_id = d.id
               and (
                 dg.group_id in (select ug.group_id from user_groups ug where ug.user_id = k.user_id)
                 or (dg.group_id = '00000000-0000-0000-0000-000000000000'::uuid
                     and k.user_id <> '00000000-0000-0000-0000-000000000000'::uuid)
               )
           )
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
  from api_keys k
  join api_keys root on root.id = coalesce(k.parent_api_key_id, k.id)
  left join api_key_spend_checkpoints ck on ck.api_key_id = root.id
  left join user_balance_checkpoints c on c.user_id = k.user_id
  left join user_feature_flags f on f.user_id = k.user_id and f.feature_flag = 'ALLOW_NEGATIVE_BALANCE'
  -- The alias is unique across soft-deleted rows too: at most one deployment.
  left join deployed_models d on d.alias = p_alias
  where k.secret_hash = p_secret_hash and k.is_deleted = false
  limit 1;
END;
$$;
