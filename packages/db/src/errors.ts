import type { CreditTransaction } from './types.ts';

/** A `sourceId` was replayed with different content: the ledger keeps the first, this one is refused. */
export class SourceIdConflictError extends Error {
  override readonly name = 'SourceIdConflictError';
  constructor(
    readonly sourceId: string,
    readonly existing: CreditTransaction,
  ) {
    super(`source_id ${JSON.stringify(sourceId)} is already recorded with different content`);
  }
}

/** An amount the ledger cannot hold exactly: not positive, not finite, or beyond its scale. */
export class InvalidAmountError extends RangeError {
  override readonly name = 'InvalidAmountError';
}

/** A query named an API key (by id) that does not exist or is deleted. */
export class UnknownApiKeyError extends Error {
  override readonly name = 'UnknownApiKeyError';
  constructor(readonly apiKeyId: string) {
    super(`no live API key with id ${apiKeyId}`);
  }
}

/** A spending cap the schema cannot hold: a limit not above zero, an unknown interval, a cap on a child key. */
export class InvalidSpendCapError extends RangeError {
  override readonly name = 'InvalidSpendCapError';
}

/** A price per token the tariff table cannot hold: negative, too large or beyond 8 decimal places. */
export class InvalidPriceError extends RangeError {
  override readonly name = 'InvalidPriceError';
}

/** An embedded database opened with `create: false` does not exist: nothing was created. */
export class DatabaseMissingError extends Error {
  override readonly name = 'DatabaseMissingError';
  constructor(readonly dataDir: string) {
    super(`no database at ${dataDir}; run migrate to create it`);
  }
}
