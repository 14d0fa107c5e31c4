import { InvalidAmountError, SourceIdConflictError } from '@control-layer/db';

/** A mistake in what the user asked for: printed as is, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** SQLSTATE of a driver error; drizzle wraps it in `cause`. */
function sqlState(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** A unique constraint refused the row. */
export function isDuplicate(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** The innermost cause's message: drivers wrap the reason (ECONNREFUSED, auth failed) deep down. */
function rootMessage(error: unknown): string {
  let root = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return root instanceof Error ? root.message || root.name : String(root);
}

/** One line that says what went wrong, for stderr. */
export function describeError(error: unknown): string {
  if (error instanceof CliError || error instanceof InvalidAmountError) return error.message;
  if (error instanceof SourceIdConflictError) {
    return `${error.message}: the ledger already holds ${error.existing.transactionType} ${error.existing.amount.toFixed()} under it`;
  }
  switch (sqlState(error)) {
    case '42P01':
      return 'the database has no schema yet: run `control-layer migrate` first';
    case '23505':
      return `already exists: ${rootMessage(error)}`;
  }
  return rootMessage(error);
}
