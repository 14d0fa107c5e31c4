-- Who may write a checkpoint. The ledger's fold, the window restarts and the rebuild run as
-- SECURITY DEFINER functions owned by the role that owns the tables (the one that ran the
-- migrations); each sets a transaction-local marker around its own writes. The guard below lets a
-- write through only when both hold: the current user is the checkpoint table's owner, which a
-- role holding the application's grants can only become inside those functions (not with
-- set_config, SET ROLE, a function or trigger of its own, or a temporary object), and the marker
-- is set, which keeps the owner's own hand-typed statements out too. Their search_path is
-- pg_catalog then pg_temp (never searched for functions or operators), and every relation is
-- named with its schema, so no object anyone else creates is ever resolved inside them.
CREATE FUNCTION public.ledger_clock_skew() RETURNS interval LANGUAGE sql IMMUTABLE AS $$
  SELECT '5 minutes'::pg_catalog.interval
$$;
--> statement-breakpoint
CREATE FUNCTION public.checkpoint_write_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP <> 'TRUNCATE'
     AND current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID)
     AND (current_setting('control_layer.checkpoint_writer', true) = 'ledger'
          -- A foreign-key cascade (a key or user row removed by whoever may delete it) runs as
          -- the table owner one trigger level down; only DELETE comes that way.
          OR (TG_OP = 'DELETE' AND pg_trigger_depth() > 1)) THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% is written only by the ledger: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation',
          HINT = CASE TG_TABLE_NAME
            WHEN 'user_balance_checkpoints' THEN 'Insert into credits_transactions to change a balance; '
            ELSE 'Insert usage into credits_transactions to spend, or into api_key_spend_window_resets to restart a window; '
          END || 'INSERT INTO user_balance_rebuilds DEFAULT VALUES recomputes every checkpoint from the ledger.';
END;
$$;
--> statement-breakpoint
DROP TRIGGER user_balance_checkpoints_writer_guard ON public.user_balance_checkpoints;
--> statement-breakpoint
DROP TRIGGER user_balance_checkpoints_no_truncate ON public.user_balance_checkpoints;
--> statement-breakpoint
DROP FUNCTION public.user_balance_checkpoints_guard();
--> statement-breakpoint
CREATE TRIGGER user_balance_checkpoints_writer_guard
BEFORE INSERT OR UPDATE OR DELETE ON public.user_balance_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION public.checkpoint_write_guard();
--> statement-breakpoint
CREATE TRIGGER user_balance_checkpoints_no_truncate
BEFORE TRUNCATE ON public.user_balance_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION public.checkpoint_write_guard();
--> statement-breakpoint
CREATE TRIGGER api_key_spend_checkpoints_writer_guard
BEFORE INSERT OR UPDATE OR DELETE ON public.api_key_spend_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION public.checkpoint_write_guard();
--> statement-breakpoint
CREATE TRIGGER api_key_spend_checkpoints_no_truncate
BEFORE TRUNCATE ON public.api_key_spend_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION public.checkpoint_write_guard();
--> statement-breakpoint
-- A definer trigger function refuses to run for any table but its own: anyone may attach a
-- function to a temporary table they own, with a transition table full of invented rows.
CREATE FUNCTION public.assert_trigger_on(expected regclass, relid oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF relid IS DISTINCT FROM expected::oid THEN
    RAISE EXCEPTION 'this trigger function serves % only', expected USING ERRCODE = 'insufficient_privilege';
  END IF;
END;
$$;
--> statement-breakpoint
-- A ledger row dated beyond the skew would decide a cap window that has not begun.
CREATE FUNCTION public.credits_transactions_refuse_future() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.created_at > clock_timestamp() + public.ledger_clock_skew() THEN
    RAISE EXCEPTION 'credits_transactions: created_at % is more than % ahead of the database clock',
      NEW.created_at, public.ledger_clock_skew()
      USING ERRCODE = 'check_violation', CONSTRAINT = 'credits_transactions_created_at_not_future';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER credits_transactions_created_at_not_future BEFORE INSERT ON public.credits_transactions
FOR EACH ROW EXECUTE FUNCTION public.credits_transactions_refuse_future();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION public.credits_transactions_fold_into_checkpoint() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM public.assert_trigger_on('public.credits_transactions', TG_RELID);
  PERFORM set_config('control_layer.checkpoint_writer', 'ledger', true);
  INSERT INTO public.user_balance_checkpoints AS c (user_id, balance, checkpoint_seq, updated_at)
  SELECT
    i.user_id,
    sum(CASE WHEN i.transaction_type IN ('purchase', 'admin_grant') THEN i.amount ELSE -i.amount END),
    max(i.seq),
    now()
  FROM inserted i
  GROUP BY i.user_id
  -- A stable order, so two multi-user statements lock checkpoints in the same order (no deadlock).
  ORDER BY i.user_id
  ON CONFLICT (user_id) DO UPDATE
    SET balance = c.balance + EXCLUDED.balance,
        checkpoint_seq = GREATEST(c.checkpoint_seq, EXCLUDED.checkpoint_seq),
        updated_at = EXCLUDED.updated_at;
  PERFORM set_config('control_layer.checkpoint_writer', '', true);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- The spend of one cap scope in the ledger: usage billed to the root or a child, the system
-- user's excepted, dated at or after `since` (all of it for a null `since`). What a checkpoint's
-- total (since null) and window (since its start) must equal; the check and the rebuild read it.
CREATE FUNCTION public.api_key_scope_spend(root_id uuid, since timestamptz) RETURNS numeric
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(sum(t.amount), 0)
  FROM public.api_keys k
  JOIN public.credits_transactions t ON t.api_key_id = k.id
  WHERE (k.id = root_id OR k.parent_api_key_id = root_id)
    AND t.transaction_type = 'usage'
    AND t.user_id <> '00000000-0000-0000-0000-000000000000'
    AND (since IS NULL OR t.created_at >= since)
$$;
--> statement-breakpoint
-- Usage folds into its scope's checkpoint in the statement that inserts it. The lifetime total
-- takes every usage row of the scope; the window, while the scope is capped, every row dated at
-- or after the window's start. A window begins at its calendar boundary, or at a reset or a new
-- cap, whichever is latest, and its start only moves forward: a row rolls the window only into
-- the window the database clock is in (a row dated ahead, within the skew, counts in today's
-- window), and a roll recomputes the new window from the ledger, so rows that were dated into
-- it before it began are counted there too. The scope's checkpoint is locked before the ledger
-- is read, so concurrent writers on one scope serialise and lose nothing.
-- A scope whose window spend reaches its limit in this statement sends `api_key_spend_cap:`
-- (dwctl's payload), so a router drops the scope's paid models at once.
CREATE OR REPLACE FUNCTION public.credits_transactions_fold_into_spend() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s record;
  c public.api_key_spend_checkpoints%ROWTYPE;
  next_start timestamptz;
  next_window numeric;
  crossed boolean := false;
BEGIN
  PERFORM public.assert_trigger_on('public.credits_transactions', TG_RELID);
  -- Most statements (grants, purchases, bulk imports) bill no key: skip the join for them.
  IF NOT EXISTS (SELECT 1 FROM inserted i WHERE i.api_key_id IS NOT NULL AND i.transaction_type = 'usage') THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('control_layer.checkpoint_writer', 'ledger', true);
  FOR s IN
    SELECT root.id AS root_id, root.spend_limit, root.spend_limit_interval,
           sum(i.amount) AS total_delta,
           max(public.api_key_cap_window_start(root.spend_limit_interval, LEAST(i.created_at, clock_timestamp()))) AS newest_start
    FROM inserted i
    JOIN public.api_keys k ON k.id = i.api_key_id
    JOIN public.api_keys root ON root.id = COALESCE(k.parent_api_key_id, k.id)
    WHERE i.transaction_type = 'usage'
      AND i.user_id <> '00000000-0000-0000-0000-000000000000'
    GROUP BY root.id, root.spend_limit, root.spend_limit_interval
    -- A stable order, so two statements lock checkpoints in the same order (no deadlock).
    ORDER BY root.id
  LOOP
    -- Uncapped: the total only, in one statement (the request path of most keys).
    IF s.spend_limit IS NULL THEN
      INSERT INTO public.api_key_spend_checkpoints AS cp (api_key_id, total_spend, window_spend, window_started_at, updated_at)
      VALUES (s.root_id, s.total_delta, 0, now(), now())
      ON CONFLICT (api_key_id) DO UPDATE
        SET total_spend = cp.total_spend + EXCLUDED.total_spend, updated_at = EXCLUDED.updated_at;
      CONTINUE;
    END IF;
    -- Capped: lock the checkpoint first, so a roll's ledger read below sees every committed row.
    SELECT * INTO c FROM public.api_key_spend_checkpoints WHERE api_key_id = s.root_id FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO public.api_key_spend_checkpoints (api_key_id, total_spend, window_spend, window_started_at, updated_at)
      VALUES (s.root_id, 0, 0, '-infinity', now())
      ON CONFLICT (api_key_id) DO NOTHING;
      SELECT * INTO c FROM public.api_key_spend_checkpoints WHERE api_key_id = s.root_id FOR UPDATE;
    END IF;
    next_start := GREATEST(c.window_started_at, s.newest_start);
    IF next_start > c.window_started_at THEN
      next_window := public.api_key_scope_spend(s.root_id, next_start);
    ELSE
      next_window := c.window_spend + (
        SELECT coalesce(sum(i.amount), 0)
        FROM inserted i
        JOIN public.api_keys k ON k.id = i.api_key_id
        WHERE COALESCE(k.parent_api_key_id, k.id) = s.root_id
          AND i.transaction_type = 'usage'
          AND i.user_id <> '00000000-0000-0000-0000-000000000000'
          AND i.created_at >= c.window_started_at);
    END IF;
    UPDATE public.api_key_spend_checkpoints
    SET total_spend = c.total_spend + s.total_delta, window_spend = next_window,
        window_started_at = next_start, updated_at = now()
    WHERE api_key_id = s.root_id;
    IF next_window >= s.spend_limit AND (next_start > c.window_started_at OR c.window_spend < s.spend_limit) THEN
      crossed := true;
    END IF;
  END LOOP;
  PERFORM set_config('control_layer.checkpoint_writer', '', true);
  IF crossed THEN
    PERFORM pg_notify('auth_config_changed',
      'api_key_spend_cap:' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP FUNCTION public.api_key_spend_window_order(uuid, timestamptz, timestamptz);
--> statement-breakpoint
-- The window fold's ledger reads: a scope's keys, then their usage from a date on.
CREATE INDEX idx_credits_transactions_api_key_created ON public.credits_transactions (api_key_id, created_at)
WHERE api_key_id IS NOT NULL;
--> statement-breakpoint
-- One row per window restart of a cap scope: inserting the row performs it (a trigger, so its
-- write passes the guard) and records who asked, when, and where the window now starts. A new
-- cap or an interval change on `api_keys` inserts one too, so every path restarts the same way
-- and tells a router once (`api_key_spend_cap_rearm:`; one payload per transaction, so Postgres
-- delivers it once however many restarts the transaction made).
CREATE TABLE public.api_key_spend_window_resets (
  id bigserial PRIMARY KEY,
  api_key_id uuid NOT NULL REFERENCES public.api_keys (id) ON DELETE CASCADE,
  -- When the caller asks the window to start; never before the start it replaces.
  reset_at timestamptz NOT NULL DEFAULT now(),
  reason text NOT NULL DEFAULT 'reset' CHECK (reason IN ('reset', 'cap', 'interval')),
  reset_by text NOT NULL DEFAULT session_user,
  -- The start the window got, and its spend from the ledger at that moment.
  window_started_at timestamptz,
  window_spend numeric(38, 15)
);
--> statement-breakpoint
CREATE FUNCTION public.api_key_spend_window_restart() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c public.api_key_spend_checkpoints%ROWTYPE;
BEGIN
  PERFORM public.assert_trigger_on('public.api_key_spend_window_resets', TG_RELID);
  IF EXISTS (SELECT 1 FROM public.api_keys k WHERE k.id = NEW.api_key_id AND k.parent_api_key_id IS NOT NULL) THEN
    RAISE EXCEPTION 'api_key_spend_window_resets: % is a child key; restart its parent''s window', NEW.api_key_id
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.reset_at > clock_timestamp() + public.ledger_clock_skew() THEN
    RAISE EXCEPTION 'api_key_spend_window_resets: reset_at % is more than % ahead of the database clock',
      NEW.reset_at, public.ledger_clock_skew()
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('control_layer.checkpoint_writer', 'ledger', true);
  INSERT INTO public.api_key_spend_checkpoints (api_key_id, total_spend, window_spend, window_started_at, updated_at)
  VALUES (NEW.api_key_id, public.api_key_scope_spend(NEW.api_key_id, NULL), 0, '-infinity', now())
  ON CONFLICT (api_key_id) DO NOTHING;
  SELECT * INTO c FROM public.api_key_spend_checkpoints WHERE api_key_id = NEW.api_key_id FOR UPDATE;
  NEW.reset_by := session_user;
  -- Never ahead of the clock: rows dated between now and a later start would count nowhere.
  NEW.window_started_at := GREATEST(c.window_started_at, LEAST(NEW.reset_at, clock_timestamp()));
  NEW.window_spend := public.api_key_scope_spend(NEW.api_key_id, NEW.window_started_at);
  UPDATE public.api_key_spend_checkpoints
  SET window_spend = NEW.window_spend, window_started_at = NEW.window_started_at, updated_at = now()
  WHERE api_key_id = NEW.api_key_id;
  PERFORM set_config('control_layer.checkpoint_writer', '', true);
  PERFORM pg_notify('auth_config_changed',
    'api_key_spend_cap_rearm:' || (extract(epoch FROM now()) * 1000000)::bigint::text);
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER api_key_spend_window_resets_perform
BEFORE INSERT ON public.api_key_spend_window_resets
FOR EACH ROW EXECUTE FUNCTION public.api_key_spend_window_restart();
--> statement-breakpoint
CREATE TRIGGER api_key_spend_window_resets_no_update BEFORE UPDATE ON public.api_key_spend_window_resets
FOR EACH ROW EXECUTE FUNCTION public.credits_transactions_reject_change();
--> statement-breakpoint
CREATE TRIGGER api_key_spend_window_resets_no_delete BEFORE DELETE ON public.api_key_spend_window_resets
FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION public.credits_transactions_reject_change();
--> statement-breakpoint
CREATE TRIGGER api_key_spend_window_resets_no_truncate BEFORE TRUNCATE ON public.api_key_spend_window_resets
FOR EACH STATEMENT EXECUTE FUNCTION public.credits_transactions_reject_change();
--> statement-breakpoint
-- A new cap, or a new interval, starts a fresh window (dwctl); changing only the limit keeps it.
CREATE FUNCTION public.api_keys_restart_capped_window() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM public.assert_trigger_on('public.api_keys', TG_RELID);
  INSERT INTO public.api_key_spend_window_resets (api_key_id, reset_at, reason)
  VALUES (NEW.id, now(), CASE WHEN TG_OP = 'INSERT' OR OLD.spend_limit IS NULL THEN 'cap' ELSE 'interval' END);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER api_keys_capped_window_on_insert AFTER INSERT ON public.api_keys
FOR EACH ROW WHEN (NEW.spend_limit IS NOT NULL)
EXECUTE FUNCTION public.api_keys_restart_capped_window();
--> statement-breakpoint
CREATE TRIGGER api_keys_capped_window_on_update AFTER UPDATE OF spend_limit, spend_limit_interval ON public.api_keys
FOR EACH ROW WHEN (NEW.spend_limit IS NOT NULL
  AND (OLD.spend_limit IS NULL OR OLD.spend_limit_interval IS DISTINCT FROM NEW.spend_limit_interval))
EXECUTE FUNCTION public.api_keys_restart_capped_window();
--> statement-breakpoint
-- Every spend checkpoint's drift from the ledger, in one place for the check and the rebuild: the
-- lifetime total of every scope with a checkpoint or usage, and the window of every capped scope
-- with a checkpoint (since its start). One row per scope that differs.
CREATE FUNCTION public.api_key_spend_drift()
RETURNS TABLE (api_key_id uuid, has_checkpoint boolean, capped boolean, window_started_at timestamptz,
               checkpoint_total numeric, ledger_total numeric, checkpoint_window numeric, ledger_window numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH scopes AS (
    SELECT c.api_key_id AS root_id FROM public.api_key_spend_checkpoints c
    UNION
    SELECT DISTINCT COALESCE(k.parent_api_key_id, k.id)
    FROM public.credits_transactions t JOIN public.api_keys k ON k.id = t.api_key_id
    WHERE t.transaction_type = 'usage' AND t.user_id <> '00000000-0000-0000-0000-000000000000'
  ), compared AS (
    SELECT s.root_id, c.api_key_id IS NOT NULL AS has_checkpoint, root.spend_limit IS NOT NULL AS capped,
           c.window_started_at, coalesce(c.total_spend, 0) AS checkpoint_total,
           public.api_key_scope_spend(s.root_id, NULL) AS ledger_total,
           c.window_spend AS checkpoint_window,
           CASE WHEN c.api_key_id IS NOT NULL AND root.spend_limit IS NOT NULL
                THEN public.api_key_scope_spend(s.root_id, c.window_started_at) END AS ledger_window
    FROM scopes s
    LEFT JOIN public.api_key_spend_checkpoints c ON c.api_key_id = s.root_id
    LEFT JOIN public.api_keys root ON root.id = s.root_id
  )
  SELECT * FROM compared x
  WHERE x.checkpoint_total <> x.ledger_total
     OR (x.ledger_window IS NOT NULL AND x.checkpoint_window <> x.ledger_window)
     -- A start ahead of the clock would keep every row of today out of the window.
     OR (x.ledger_window IS NOT NULL AND x.window_started_at > clock_timestamp() + public.ledger_clock_skew())
  ORDER BY x.root_id
$$;
--> statement-breakpoint
ALTER TABLE public.user_balance_rebuilds
  ADD COLUMN spend_checkpoints integer NOT NULL DEFAULT 0,
  ADD COLUMN spend_checkpoints_rewritten integer NOT NULL DEFAULT 0;
--> statement-breakpoint
-- The rebuild recomputes both kinds of checkpoint, under one lock, through the same guard.
CREATE OR REPLACE FUNCTION public.user_balance_rebuild() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  upserted integer;
  removed integer;
  spend_rewritten integer;
BEGIN
  PERFORM public.assert_trigger_on('public.user_balance_rebuilds', TG_RELID);
  -- A snapshot taken before the lock below would miss rows committed while waiting for it, and
  -- the rebuild would write balances without them.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'user_balance_rebuilds: a rebuild runs in a READ COMMITTED transaction, not %',
      current_setting('transaction_isolation')
      USING ERRCODE = 'invalid_transaction_state';
  END IF;
  -- No ledger insert can start or be in flight until this transaction ends (SHARE ROW EXCLUSIVE
  -- conflicts with the ROW EXCLUSIVE lock of an INSERT, and with itself: rebuilds queue). In READ
  -- COMMITTED every statement below then sees every committed row.
  LOCK TABLE public.credits_transactions IN SHARE ROW EXCLUSIVE MODE;
  PERFORM set_config('control_layer.checkpoint_writer', 'ledger', true);

  WITH sums AS (
    SELECT t.user_id,
           sum(CASE WHEN t.transaction_type IN ('purchase', 'admin_grant') THEN t.amount ELSE -t.amount END) AS balance,
           max(t.seq) AS seq
    FROM public.credits_transactions t
    GROUP BY t.user_id
  ), written AS (
    INSERT INTO public.user_balance_checkpoints AS c (user_id, balance, checkpoint_seq, updated_at)
    SELECT s.user_id, s.balance, s.seq, now() FROM sums s ORDER BY s.user_id
    ON CONFLICT (user_id) DO UPDATE
      SET balance = EXCLUDED.balance, checkpoint_seq = EXCLUDED.checkpoint_seq, updated_at = EXCLUDED.updated_at
      WHERE c.balance IS DISTINCT FROM EXCLUDED.balance OR c.checkpoint_seq IS DISTINCT FROM EXCLUDED.checkpoint_seq
    RETURNING 1
  )
  SELECT count(*) INTO upserted FROM written;

  -- A checkpoint without any ledger row: the balance is 0, which is what no row means.
  DELETE FROM public.user_balance_checkpoints c
  WHERE NOT EXISTS (SELECT 1 FROM public.credits_transactions t WHERE t.user_id = c.user_id);
  GET DIAGNOSTICS removed = ROW_COUNT;

  -- Spend: the same comparison the check makes. A window start ahead of the clock falls back to
  -- the current calendar window's; every other start is kept (it only moves forward).
  WITH drift AS (
    SELECT d.*, root.spend_limit_interval,
           CASE WHEN d.window_started_at IS NULL OR d.window_started_at > clock_timestamp() + public.ledger_clock_skew()
                THEN public.api_key_cap_window_start(root.spend_limit_interval, clock_timestamp())
                ELSE d.window_started_at END AS start_at
    FROM public.api_key_spend_drift() d
    JOIN public.api_keys root ON root.id = d.api_key_id
  ), written AS (
    INSERT INTO public.api_key_spend_checkpoints AS c (api_key_id, total_spend, window_spend, window_started_at, updated_at)
    SELECT d.api_key_id, d.ledger_total,
           CASE WHEN d.capped THEN public.api_key_scope_spend(d.api_key_id, d.start_at) ELSE 0 END,
           CASE WHEN d.capped THEN d.start_at ELSE now() END, now()
    FROM drift d ORDER BY d.api_key_id
    ON CONFLICT (api_key_id) DO UPDATE
      SET total_spend = EXCLUDED.total_spend,
          window_spend = CASE WHEN c.window_started_at > clock_timestamp() + public.ledger_clock_skew()
                                OR (SELECT k.spend_limit IS NOT NULL FROM public.api_keys k WHERE k.id = c.api_key_id)
                              THEN EXCLUDED.window_spend ELSE c.window_spend END,
          window_started_at = CASE WHEN c.window_started_at > clock_timestamp() + public.ledger_clock_skew()
                                     OR (SELECT k.spend_limit IS NOT NULL FROM public.api_keys k WHERE k.id = c.api_key_id)
                                   THEN EXCLUDED.window_started_at ELSE c.window_started_at END,
          updated_at = EXCLUDED.updated_at
    RETURNING 1
  )
  SELECT count(*) INTO spend_rewritten FROM written;
  PERFORM set_config('control_layer.checkpoint_writer', '', true);

  NEW.rebuilt_at := now();
  NEW.rebuilt_by := session_user;
  NEW.checkpoints := (SELECT count(*) FROM public.user_balance_checkpoints);
  NEW.checkpoints_rewritten := upserted + removed;
  NEW.spend_checkpoints := (SELECT count(*) FROM public.api_key_spend_checkpoints);
  NEW.spend_checkpoints_rewritten := spend_rewritten;
  NEW.ledger_seq := (SELECT max(seq) FROM public.credits_transactions);
  RETURN NEW;
END;
$$;
--> statement-breakpoint
-- The rebuild's lock, for a caller that wants to read the drift it is about to repair under it
-- (LOCK TABLE in this mode would otherwise take UPDATE rights on the ledger).
CREATE FUNCTION public.lock_ledger_for_rebuild() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  LOCK TABLE public.credits_transactions IN SHARE ROW EXCLUSIVE MODE;
END;
$$;
--> statement-breakpoint
REVOKE EXECUTE ON FUNCTION public.credits_transactions_fold_into_checkpoint(), public.credits_transactions_fold_into_spend(),
  public.api_key_spend_window_restart(), public.api_keys_restart_capped_window(), public.user_balance_rebuild(),
  public.lock_ledger_for_rebuild() FROM PUBLIC;
--> statement-breakpoint
-- Checkpoints folded before this migration: totals counted only capped usage and windows counted
-- rows from before a reset. Recompute what differs, as the rebuild would.
SELECT set_config('control_layer.checkpoint_writer', 'ledger', true);
--> statement-breakpoint
INSERT INTO public.api_key_spend_checkpoints AS c (api_key_id, total_spend, window_spend, window_started_at, updated_at)
SELECT d.api_key_id, d.ledger_total, coalesce(d.ledger_window, 0), coalesce(d.window_started_at, now()), now()
FROM public.api_key_spend_drift() d
ORDER BY d.api_key_id
ON CONFLICT (api_key_id) DO UPDATE
  SET total_spend = EXCLUDED.total_spend, window_spend = EXCLUDED.window_spend, updated_at = EXCLUDED.updated_at;
--> statement-breakpoint
SELECT set_config('control_layer.checkpoint_writer', '', true);
