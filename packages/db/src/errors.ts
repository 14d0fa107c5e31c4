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
