import { type Database, type DenialFacts, explainDenial } from '@control-layer/db';
import { coalesce } from './coalesce.ts';

/** Somewhere to run a read: a replica while it is healthy and fresh, else the primary. */
export interface ReadSource {
  run<T>(work: (db: Database) => Promise<T>): Promise<T>;
}

export type DenialLookup = (secret: string, model: string | null) => Promise<DenialFacts | null>;

/**
 * The diagnosis statement as the middleware runs it: on `readDb` when given (else `db`) and, with
 * `coalesce`, shared by the diagnoses of the same key and model that arrive within
 * `coalesceWindowMs` of its start, so a client hammering a denied key costs at most one
 * statement per window rather than one per response.
 */
export function denialLookup(options: {
  db: Database;
  readDb?: ReadSource;
  coalesce: boolean;
  coalesceWindowMs: number;
}): DenialLookup {
  const { db, readDb } = options;
  const lookup: DenialLookup = readDb
    ? (secret, model) => readDb.run((read) => explainDenial(read, secret, model))
    : (secret, model) => explainDenial(db, secret, model);
  // The key holds the secret only while its statement runs; the map is empty between diagnoses.
  return options.coalesce
    ? coalesce(lookup, (secret, model) => JSON.stringify([secret, model]), { windowMs: options.coalesceWindowMs })
    : lookup;
}
