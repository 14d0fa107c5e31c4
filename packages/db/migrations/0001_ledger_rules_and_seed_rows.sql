-- The system user and the Everyone group both have the nil uuid (as in dwctl).
INSERT INTO "users" ("id", "username", "email", "display_name", "auth_source", "is_admin")
VALUES ('00000000-0000-0000-0000-000000000000', 'system', 'system@internal', 'System User', 'internal', true)
ON CONFLICT ("id") DO NOTHING;
--> statement-breakpoint
INSERT INTO "groups" ("id", "name", "description", "created_by", "source")
VALUES ('00000000-0000-0000-0000-000000000000', 'Everyone', 'Every user but the system user belongs here implicitly', '00000000-0000-0000-0000-000000000000', 'native')
ON CONFLICT ("id") DO NOTHING;
--> statement-breakpoint
-- The ledger is append-only whoever writes to it: rows are never updated or deleted.
CREATE FUNCTION "credits_transactions_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credits_transactions is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "credits_transactions_no_update" BEFORE UPDATE ON "credits_transactions"
FOR EACH ROW EXECUTE FUNCTION "credits_transactions_reject_change"();
--> statement-breakpoint
CREATE TRIGGER "credits_transactions_no_delete" BEFORE DELETE ON "credits_transactions"
FOR EACH ROW EXECUTE FUNCTION "credits_transactions_reject_change"();
--> statement-breakpoint
CREATE TRIGGER "credits_transactions_no_truncate" BEFORE TRUNCATE ON "credits_transactions"
FOR EACH STATEMENT EXECUTE FUNCTION "credits_transactions_reject_change"();
--> statement-breakpoint
-- Every ledger insert, a plain SQL one included, folds its signed amounts into the users'
-- checkpoints in the same statement. Statement-level, over the transition table: a bulk insert
-- of N rows for one user updates the checkpoint once, not N times (N row versions of one row
-- in one transaction would make the insert quadratic). ON CONFLICT DO UPDATE re-reads the latest
-- row version under its row lock, so concurrent writers serialise per user and the sum stays
-- exact (numeric, no rounding: both columns share precision and scale).
CREATE FUNCTION "credits_transactions_fold_into_checkpoint"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "user_balance_checkpoints" AS c ("user_id", "balance", "checkpoint_seq", "updated_at")
  SELECT
    i."user_id",
    sum(CASE WHEN i."transaction_type" IN ('purchase', 'admin_grant') THEN i."amount" ELSE -i."amount" END),
    max(i."seq"),
    now()
  FROM "inserted" i
  GROUP BY i."user_id"
  -- A stable order, so two multi-user statements lock checkpoints in the same order (no deadlock).
  ORDER BY i."user_id"
  ON CONFLICT ("user_id") DO UPDATE
    SET "balance" = c."balance" + EXCLUDED."balance",
        "checkpoint_seq" = GREATEST(c."checkpoint_seq", EXCLUDED."checkpoint_seq"),
        "updated_at" = EXCLUDED."updated_at";
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "credits_transactions_checkpoint" AFTER INSERT ON "credits_transactions"
REFERENCING NEW TABLE AS "inserted"
FOR EACH STATEMENT EXECUTE FUNCTION "credits_transactions_fold_into_checkpoint"();
