import { customType, timestamp } from 'drizzle-orm/pg-core';
import { Decimal } from '../money.ts';

/** The nil uuid: id of the system user and of the Everyone group. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** `created_at` / `updated_at`, spread into tables that track both. */
export const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

/**
 * Money: `numeric(38,15)` in SQL, `Decimal` in TypeScript. Both drivers hand numeric back as
 * a string, so no value ever passes through a float.
 */
export const money = customType<{ data: Decimal; driverData: string }>({
  dataType: () => 'numeric(38, 15)',
  toDriver: (value) => value.toFixed(),
  fromDriver: (value) => new Decimal(value),
});

/**
 * A price per token: `numeric(12, 8)` as in dwctl, `Decimal` in TypeScript. Usage charged at
 * these prices (tokens × price) always fits the ledger's scale exactly.
 */
export const price = customType<{ data: Decimal; driverData: string }>({
  dataType: () => 'numeric(12, 8)',
  toDriver: (value) => value.toFixed(),
  fromDriver: (value) => new Decimal(value),
});
