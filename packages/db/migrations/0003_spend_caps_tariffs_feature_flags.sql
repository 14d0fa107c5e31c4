CREATE TABLE "model_tariffs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployed_model_id" uuid NOT NULL,
	"name" varchar NOT NULL,
	"input_price_per_token" numeric(12, 8) DEFAULT 0 NOT NULL,
	"output_price_per_token" numeric(12, 8) DEFAULT 0 NOT NULL,
	"valid_from" timestamp with time zone DEFAULT now() NOT NULL,
	"valid_until" timestamp with time zone,
	"api_key_purpose" varchar,
	"completion_window" varchar,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_tariffs_prices_non_negative" CHECK ("model_tariffs"."input_price_per_token" >= 0 and "model_tariffs"."output_price_per_token" >= 0),
	CONSTRAINT "model_tariffs_valid_range" CHECK ("model_tariffs"."valid_until" is null or "model_tariffs"."valid_until" >= "model_tariffs"."valid_from")
);
--> statement-breakpoint
CREATE TABLE "api_key_spend_checkpoints" (
	"api_key_id" uuid PRIMARY KEY NOT NULL,
	"total_spend" numeric(38, 15) DEFAULT 0 NOT NULL,
	"window_spend" numeric(38, 15) DEFAULT 0 NOT NULL,
	"window_started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_feature_flags" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"feature_flag" varchar NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_feature_flags_user_id_feature_flag_key" UNIQUE("user_id","feature_flag")
);
--> statement-breakpoint
ALTER TABLE "deployed_models" ADD COLUMN "status" varchar DEFAULT 'active' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "spend_limit" numeric(38, 15);--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "spend_limit_interval" text;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "parent_api_key_id" uuid;--> statement-breakpoint
ALTER TABLE "model_tariffs" ADD CONSTRAINT "model_tariffs_deployed_model_id_deployed_models_id_fk" FOREIGN KEY ("deployed_model_id") REFERENCES "public"."deployed_models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_key_spend_checkpoints" ADD CONSTRAINT "api_key_spend_checkpoints_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_feature_flags" ADD CONSTRAINT "user_feature_flags_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_model_tariffs_active" ON "model_tariffs" USING btree ("deployed_model_id") WHERE "model_tariffs"."valid_until" is null;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_parent_api_key_id_api_keys_id_fk" FOREIGN KEY ("parent_api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "idx_api_keys_child_purpose" ON "api_keys" USING btree ("parent_api_key_id","purpose") WHERE "api_keys"."hidden" = true and "api_keys"."is_deleted" = false and "api_keys"."parent_api_key_id" is not null;--> statement-breakpoint
CREATE INDEX "idx_api_keys_capped_roots" ON "api_keys" USING btree ("id") WHERE "api_keys"."spend_limit" is not null;--> statement-breakpoint
ALTER TABLE "deployed_models" ADD CONSTRAINT "deployed_models_status_check" CHECK ("deployed_models"."status" in ('active', 'inactive'));--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_spend_limit_positive" CHECK ("api_keys"."spend_limit" is null or "api_keys"."spend_limit" > 0);--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_spend_limit_interval_valid" CHECK ("api_keys"."spend_limit_interval" is null or "api_keys"."spend_limit_interval" in ('daily', 'weekly', 'monthly'));--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_interval_requires_limit" CHECK ("api_keys"."spend_limit_interval" is null or "api_keys"."spend_limit" is not null);--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_children_carry_no_cap" CHECK ("api_keys"."parent_api_key_id" is null or "api_keys"."spend_limit" is null);