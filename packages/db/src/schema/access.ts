import { sql } from 'drizzle-orm';
import { boolean, check, index, pgTable, text, timestamp, unique, uuid, varchar } from 'drizzle-orm/pg-core';
import { NIL_UUID, price, timestamps } from './columns.ts';
import { users } from './users.ts';

/** Groups; the nil-uuid Everyone group holds every user but the system user implicitly. */
export const groups = pgTable('groups', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: varchar('name').notNull().unique(),
  description: text('description'),
  createdBy: uuid('created_by')
    .notNull()
    .default(NIL_UUID)
    .references(() => users.id, { onDelete: 'cascade' }),
  source: text('source').notNull().default('native'),
  ...timestamps,
});

export const userGroups = pgTable(
  'user_groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Also serves "the groups of this user", the access check's inner lookup.
    unique('user_groups_user_id_group_id_key').on(t.userId, t.groupId),
    // Group membership listings and cascades.
    index('idx_user_groups_group_id').on(t.groupId),
  ],
);

export const inferenceEndpoints = pgTable('inference_endpoints', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: varchar('name').notNull().unique(),
  description: text('description'),
  url: varchar('url').notNull(),
  apiKey: text('api_key'),
  createdBy: uuid('created_by')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  ...timestamps,
});

/** Whether the router serves a deployment; dwctl's `deployed_models.status`. */
export const MODEL_STATUSES = ['active', 'inactive'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export const deployedModels = pgTable(
  'deployed_models',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    modelName: varchar('model_name').notNull(),
    // The name clients send as `model`; unique across soft-deleted rows too, as in dwctl.
    alias: varchar('alias').notNull().unique('deployed_models_alias_unique'),
    description: text('description'),
    hostedOn: uuid('hosted_on').references(() => inferenceEndpoints.id, { onDelete: 'cascade' }),
    deleted: boolean('deleted').notNull().default(false),
    status: varchar('status').$type<ModelStatus>().notNull().default('active'),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    ...timestamps,
  },
  (t) => [
    index('idx_deployed_models_hosted_on').on(t.hostedOn),
    check('deployed_models_status_check', sql`${t.status} in ('active', 'inactive')`),
  ],
);

export const deploymentGroups = pgTable(
  'deployment_groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deploymentId: uuid('deployment_id')
      .notNull()
      .references(() => deployedModels.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    grantedBy: uuid('granted_by').references(() => users.id),
    grantedAt: timestamp('granted_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // The access check joins a deployment to its groups through this pair.
    unique('deployment_groups_deployment_id_group_id_key').on(t.deploymentId, t.groupId),
    index('idx_deployment_groups_group_id').on(t.groupId),
  ],
);

export const TRAFFIC_ACTIONS = ['deny', 'redirect'] as const;
export type TrafficAction = (typeof TRAFFIC_ACTIONS)[number];

export const modelTrafficRules = pgTable(
  'model_traffic_rules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deployedModelId: uuid('deployed_model_id')
      .notNull()
      .references(() => deployedModels.id, { onDelete: 'cascade' }),
    // Compared with api_keys.purpose; no CHECK, as in dwctl, so new purposes need no migration.
    apiKeyPurpose: varchar('api_key_purpose').notNull(),
    action: varchar('action').$type<TrafficAction>().notNull(),
    redirectTargetId: uuid('redirect_target_id').references(() => deployedModels.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // At most one rule per (model, purpose); also serves the modality lookup.
    unique('unique_purpose_per_model').on(t.deployedModelId, t.apiKeyPurpose),
    check(
      'valid_action',
      sql`(${t.action} = 'deny' and ${t.redirectTargetId} is null) or (${t.action} = 'redirect' and ${t.redirectTargetId} is not null)`,
    ),
  ],
);

/**
 * Prices of a deployment. A tariff is active while `valid_until` is null; a model is free when no
 * active tariff has a price above zero, whatever the tariff's purpose (as the router decides).
 */
export const modelTariffs = pgTable(
  'model_tariffs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deployedModelId: uuid('deployed_model_id')
      .notNull()
      .references(() => deployedModels.id, { onDelete: 'cascade' }),
    name: varchar('name').notNull(),
    inputPricePerToken: price('input_price_per_token').notNull().default(sql`0`),
    outputPricePerToken: price('output_price_per_token').notNull().default(sql`0`),
    validFrom: timestamp('valid_from', { withTimezone: true }).notNull().defaultNow(),
    validUntil: timestamp('valid_until', { withTimezone: true }),
    // The key purpose the tariff prices; null: any.
    apiKeyPurpose: varchar('api_key_purpose'),
    completionWindow: varchar('completion_window'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('model_tariffs_prices_non_negative', sql`${t.inputPricePerToken} >= 0 and ${t.outputPricePerToken} >= 0`),
    check('model_tariffs_valid_range', sql`${t.validUntil} is null or ${t.validUntil} >= ${t.validFrom}`),
    // "Is this model paid?" reads the active tariffs of one deployment.
    index('idx_model_tariffs_active').on(t.deployedModelId).where(sql`${t.validUntil} is null`),
  ],
);
