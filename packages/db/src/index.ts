export { APP_ROLE, APP_ROLE_GRANTS, appRoleGrants } from './app-role.ts';
export type { DataDirLock, LockOptions, StaleLock, StaleReason } from './data-dir-lock.ts';
export { DatabaseLockedError, LOCK_FILE, lockDataDir, STALE_REASONS } from './data-dir-lock.ts';
export type { Database, MigrationResult, OpenDatabaseOptions, OpenedDatabase, Schema } from './database.ts';
export { MEMORY_DATABASE, MIGRATIONS_FOLDER, migrate, openDatabase, rowsOf } from './database.ts';
export type { DatabaseTarget, ParseDatabaseUrlOptions } from './database-url.ts';
export {
  DATABASE_URL_FORMS,
  DatabaseUrlError,
  describeTarget,
  maskUrl,
  parseDatabaseUrl,
  targetUrl,
} from './database-url.ts';
export type { ErrorDescription } from './describe-error.ts';
export { describeError, stackFrames } from './describe-error.ts';
export {
  DatabaseMissingError,
  InvalidAmountError,
  InvalidPriceError,
  InvalidSpendCapError,
  SourceIdConflictError,
  UnknownApiKeyError,
} from './errors.ts';
export { Decimal, MONEY_PRECISION } from './money.ts';
export type { TrafficRuleInput } from './queries/access.ts';
export * from './queries/access.ts';
export { isPossibleAlias, isStorableText, MAX_ALIAS_BYTES } from './queries/access-sql.ts';
export type { ApiKeyWithSpend } from './queries/api-key-admin.ts';
export * from './queries/api-key-admin.ts';
export type { CreateApiKeyInput, CreatedApiKey } from './queries/api-keys.ts';
export * from './queries/api-keys.ts';
export type { CreateTransactionInput, RecordedTransaction } from './queries/credits.ts';
export * from './queries/credits.ts';
export * from './queries/endpoints.ts';
export type { DenialFacts, ExplainDenialOptions, SpendCapFacts } from './queries/explain-denial.ts';
export * from './queries/explain-denial.ts';
export * from './queries/feature-flags.ts';
export type { GroupListing, GroupMember } from './queries/groups.ts';
export * from './queries/groups.ts';
export type { KeyExpiry, KeyExpiryChange } from './queries/key-expiry.ts';
export { resolveKeyExpiry, setApiKeyExpiry } from './queries/key-expiry.ts';
export type { LedgerCheck, LedgerDrift, LedgerRebuild, SpendDrift } from './queries/ledger-integrity.ts';
export { checkLedger, rebuildCheckpoints } from './queries/ledger-integrity.ts';
export type { ListedModel, ListModelsOptions, ModelListing } from './queries/model-list.ts';
export * from './queries/model-list.ts';
export type { DeployedModelListing } from './queries/models.ts';
export * from './queries/models.ts';
export type { PreparedStatementOptions } from './queries/prepared-statement.ts';
export { preparedStatement, useNamedStatements } from './queries/prepared-statement.ts';
export type { TrafficRuleListing } from './queries/rules.ts';
export * from './queries/rules.ts';
export type { RecordUsageInput } from './queries/spend.ts';
export * from './queries/spend.ts';
export type { SpendCapInput } from './queries/spend-caps.ts';
export * from './queries/spend-caps.ts';
export type { SetTariffInput } from './queries/tariffs.ts';
export * from './queries/tariffs.ts';
export type { UserPatch } from './queries/users.ts';
export * from './queries/users.ts';
export type { ReadRouter, ReadRouterOptions, ReplicaState } from './read-router.ts';
export { createReadRouter } from './read-router.ts';
export * from './schema/index.ts';
export type * from './types.ts';
