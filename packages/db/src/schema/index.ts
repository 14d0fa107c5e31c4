export * from './access.ts';
export * from './api-keys.ts';
export * from './columns.ts';
export * from './credits.ts';
export * from './users.ts';
