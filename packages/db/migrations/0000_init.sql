CREATE TABLE "deployed_models" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model_name" varchar NOT NULL,
	"alias" varchar NOT NULL,
	"description" text,
	"hosted_on" uuid,
	"deleted" boolean DEFAULT false NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deployed_models_alias_unique" UNIQUE("alias")
);
--> statement-breakpoint
CREATE TABLE "deployment_groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployment_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	"granted_by" uuid,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deployment_groups_deployment_id_group_id_key" UNIQUE("deployment_id","group_id")
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar NOT NULL,
	"description" text,
	"created_by" uuid DEFAULT '00000000-0000-0000-0000-000000000000' NOT NULL,
	"source" text DEFAULT 'native' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "groups_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "inference_endpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar NOT NULL,
	"description" text,
	"url" varchar NOT NULL,
	"api_key" text,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inference_endpoints_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "model_traffic_rules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployed_model_id" uuid NOT NULL,
	"api_key_purpose" varchar NOT NULL,
	"action" varchar NOT NULL,
	"redirect_target_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "unique_purpose_per_model" UNIQUE("deployed_model_id","api_key_purpose"),
	CONSTRAINT "valid_action" CHECK (("model_traffic_rules"."action" = 'deny' and "model_traffic_rules"."redirect_target_id" is null) or ("model_traffic_rules"."action" = 'redirect' and "model_traffic_rules"."redirect_target_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "user_groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_groups_user_id_group_id_key" UNIQUE("user_id","group_id")
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar NOT NULL,
	"description" text,
	"secret_hash" varchar(64) NOT NULL,
	"purpose" varchar NOT NULL,
	"user_id" uuid NOT NULL,
	"created_by" uuid NOT NULL,
	"requests_per_second" real,
	"burst_size" integer,
	"hidden" boolean DEFAULT false NOT NULL,
	"is_deleted" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used" timestamp with time zone,
	CONSTRAINT "api_keys_secret_hash_unique" UNIQUE("secret_hash"),
	CONSTRAINT "api_keys_purpose_check" CHECK ("api_keys"."purpose" in ('platform', 'realtime', 'batch', 'playground')),
	CONSTRAINT "api_keys_secret_hash_hex" CHECK ("api_keys"."secret_hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "credits_transactions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"user_id" uuid NOT NULL,
	"transaction_type" text NOT NULL,
	"amount" numeric(38, 15) NOT NULL,
	"source_id" text NOT NULL,
	"description" text,
	"fusillade_batch_id" uuid,
	"api_key_id" uuid,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	CONSTRAINT "credits_transactions_seq_unique" UNIQUE("seq"),
	CONSTRAINT "credits_transactions_source_id_unique" UNIQUE("source_id"),
	CONSTRAINT "credits_transactions_transaction_type_check" CHECK ("credits_transactions"."transaction_type" in ('purchase', 'admin_grant', 'admin_removal', 'usage')),
	CONSTRAINT "credits_transactions_amount_positive" CHECK ("credits_transactions"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "user_balance_checkpoints" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"balance" numeric(38, 15) DEFAULT 0 NOT NULL,
	"checkpoint_seq" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"username" varchar NOT NULL,
	"email" varchar NOT NULL,
	"display_name" varchar,
	"auth_source" varchar DEFAULT 'native' NOT NULL,
	"is_admin" boolean DEFAULT false NOT NULL,
	"is_deleted" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_username_unique" UNIQUE("username")
);
--> statement-breakpoint
ALTER TABLE "deployed_models" ADD CONSTRAINT "deployed_models_hosted_on_inference_endpoints_id_fk" FOREIGN KEY ("hosted_on") REFERENCES "public"."inference_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployed_models" ADD CONSTRAINT "deployed_models_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_groups" ADD CONSTRAINT "deployment_groups_deployment_id_deployed_models_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployed_models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_groups" ADD CONSTRAINT "deployment_groups_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_groups" ADD CONSTRAINT "deployment_groups_granted_by_users_id_fk" FOREIGN KEY ("granted_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inference_endpoints" ADD CONSTRAINT "inference_endpoints_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_traffic_rules" ADD CONSTRAINT "model_traffic_rules_deployed_model_id_deployed_models_id_fk" FOREIGN KEY ("deployed_model_id") REFERENCES "public"."deployed_models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_traffic_rules" ADD CONSTRAINT "model_traffic_rules_redirect_target_id_deployed_models_id_fk" FOREIGN KEY ("redirect_target_id") REFERENCES "public"."deployed_models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_groups" ADD CONSTRAINT "user_groups_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_groups" ADD CONSTRAINT "user_groups_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credits_transactions" ADD CONSTRAINT "credits_transactions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_balance_checkpoints" ADD CONSTRAINT "user_balance_checkpoints_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_deployed_models_hosted_on" ON "deployed_models" USING btree ("hosted_on");--> statement-breakpoint
CREATE INDEX "idx_deployment_groups_group_id" ON "deployment_groups" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "idx_user_groups_group_id" ON "user_groups" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "idx_api_keys_user_id" ON "api_keys" USING btree ("user_id") WHERE "api_keys"."is_deleted" = false;--> statement-breakpoint
CREATE INDEX "idx_credits_transactions_user_seq" ON "credits_transactions" USING btree ("user_id","seq" DESC NULLS LAST);