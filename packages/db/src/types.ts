import type {
  apiKeySpendCheckpoints,
  apiKeys,
  creditsTransactions,
  deployedModels,
  deploymentGroups,
  groups,
  inferenceEndpoints,
  modelTariffs,
  modelTrafficRules,
  userBalanceCheckpoints,
  userFeatureFlags,
  userGroups,
  users,
} from './schema/index.ts';

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type ApiKey = typeof apiKeys.$inferSelect;
export type NewApiKey = typeof apiKeys.$inferInsert;
export type CreditTransaction = typeof creditsTransactions.$inferSelect;
export type BalanceCheckpoint = typeof userBalanceCheckpoints.$inferSelect;
export type Group = typeof groups.$inferSelect;
export type NewGroup = typeof groups.$inferInsert;
export type UserGroup = typeof userGroups.$inferSelect;
export type InferenceEndpoint = typeof inferenceEndpoints.$inferSelect;
export type NewInferenceEndpoint = typeof inferenceEndpoints.$inferInsert;
export type DeployedModel = typeof deployedModels.$inferSelect;
export type NewDeployedModel = typeof deployedModels.$inferInsert;
export type DeploymentGroup = typeof deploymentGroups.$inferSelect;
export type TrafficRule = typeof modelTrafficRules.$inferSelect;
export type SpendCheckpoint = typeof apiKeySpendCheckpoints.$inferSelect;
export type ModelTariff = typeof modelTariffs.$inferSelect;
export type UserFeatureFlag = typeof userFeatureFlags.$inferSelect;
