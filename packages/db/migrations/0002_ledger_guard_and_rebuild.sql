-- Every trigger function runs with a fixed search_path, pg_temp last, and names its tables with
-- their schema: otherwise a session's temporary table named like one of ours (pg_temp is searched
-- first unless it is listed) would take the write meant for the real table.
CREATE OR REPLACE FUNCTION public.credits_transactions_reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION public.credits_transactions_fold_into_checkpoint() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
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
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Only triggers write the checkpoints: the ledger's fold (above) and the rebuild (below). A
-- statement sent by a client runs its triggers at depth 1; a statement run by a trigger runs its
-- own at depth 2 or more. Creating another trigger that writes here takes the same rights as
-- dropping this guard (owning a table), so the guard stops every ordinary statement, not the owner.
CREATE FUNCTION public.user_balance_checkpoints_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF TG_OP <> 'TRUNCATE' AND pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'user_balance_checkpoints is written only by the ledger: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation',
          HINT = 'Insert into credits_transactions to change a balance; '
              || 'INSERT INTO user_balance_rebuilds DEFAULT VALUES recomputes every checkpoint from the ledger.';
END;
$$;
--> statement-breakpoint
-- Statement-level: one check per statement, whatever its row count (the fold's upsert fires both
-- the INSERT and the UPDATE statement triggers).
CREATE TRIGGER user_balance_checkpoints_writer_guard
BEFORE INSERT OR UPDATE OR DELETE ON public.user_balance_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION public.user_balance_checkpoints_guard();
--> statement-breakpoint
CREATE TRIGGER user_balance_checkpoints_no_truncate
BEFORE TRUNCATE ON public.user_balance_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION public.user_balance_checkpoints_guard();
--> statement-breakpoint
-- One row per rebuild of the checkpoints: inserting the row performs it (a trigger, so that its
-- writes pass the guard above) and records who ran it, when, and what it changed.
CREATE TABLE public.user_balance_rebuilds (
  id bigserial PRIMARY KEY,
  rebuilt_at timestamptz NOT NULL DEFAULT now(),
  rebuilt_by text NOT NULL DEFAULT current_user,
  -- Checkpoints after the rebuild, and how many of them it inserted, changed or removed.
  checkpoints integer NOT NULL DEFAULT 0,
  checkpoints_rewritten integer NOT NULL DEFAULT 0,
  -- The newest ledger row the rebuild saw.
  ledger_seq bigint
);
--> statement-breakpoint
CREATE FUNCTION public.user_balance_rebuild() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  upserted integer;
  removed integer;
BEGIN
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

  NEW.rebuilt_at := now();
  NEW.rebuilt_by := current_user;
  NEW.checkpoints := (SELECT count(*) FROM public.user_balance_checkpoints);
  NEW.checkpoints_rewritten := upserted + removed;
  NEW.ledger_seq := (SELECT max(seq) FROM public.credits_transactions);
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER user_balance_rebuilds_perform
BEFORE INSERT ON public.user_balance_rebuilds
FOR EACH ROW EXECUTE FUNCTION public.user_balance_rebuild();
--> statement-breakpoint
-- The record of rebuilds is kept like the ledger: never changed afterwards.
CREATE TRIGGER user_balance_rebuilds_no_update BEFORE UPDATE ON public.user_balance_rebuilds
FOR EACH ROW EXECUTE FUNCTION public.credits_transactions_reject_change();
--> statement-breakpoint
CREATE TRIGGER user_balance_rebuilds_no_delete BEFORE DELETE ON public.user_balance_rebuilds
FOR EACH ROW EXECUTE FUNCTION public.credits_transactions_reject_change();
--> statement-breakpoint
CREATE TRIGGER user_balance_rebuilds_no_truncate BEFORE TRUNCATE ON public.user_balance_rebuilds
FOR EACH STATEMENT EXECUTE FUNCTION public.credits_transactions_reject_change();
