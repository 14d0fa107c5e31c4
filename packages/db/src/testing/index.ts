export type { DenialWorldKeys } from './fixtures.ts';
export * from './fixtures.ts';
export type { NotificationListener } from './notifications.ts';
export { listenNotifications } from './notifications.ts';
export { rejection, sqlState } from './rejection.ts';
export type { TestDatabase, TestDatabaseOptions } from './test-database.ts';
export { createTestDatabase, withTestDatabase } from './test-database.ts';
export type { TestPostgres } from './test-postgres.ts';
export { sharedTestPostgres, startTestPostgres } from './test-postgres.ts';
