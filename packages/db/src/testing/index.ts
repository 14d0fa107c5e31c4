export type { TestDatabase, TestDatabaseOptions } from './test-database.ts';
export type { TestPostgres } from './test-postgres.ts';
export * from './fixtures.ts';
export { createTestDatabase, withTestDatabase } from './test-database.ts';
export { sharedTestPostgres, startTestPostgres } from './test-postgres.ts';
export { rejection, sqlState } from './rejection.ts';
