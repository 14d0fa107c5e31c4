import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { InvalidPriceError } from '../errors.ts';
import { Decimal } from '../money.ts';
import { modelTariffs } from '../schema/index.ts';
import type { ModelTariff } from '../types.ts';
import { isStorableText } from './access-sql.ts';

/** `numeric(12, 8)`: 4 integer digits, 8 decimal places. */
const PRICE_SCALE = 8;
const MAX_PRICE = new Decimal('9999.99999999');

export interface SetTariffInput {
  deployedModelId: string;
  name: string;
  inputPricePerToken: Decimal;
  outputPricePerToken: Decimal;
  /** The key purpose it prices; null for any. @default null */
  apiKeyPurpose?: string | null;
  /** @default now */
  validFrom?: Date;
}

function assertPrice(what: string, value: Decimal): void {
  if (!(value instanceof Decimal) || !value.isFinite() || value.lt(0) || value.gt(MAX_PRICE)) {
    throw new InvalidPriceError(`${what} must be between 0 and ${MAX_PRICE.toFixed()}`);
  }
  if (value.decimalPlaces() > PRICE_SCALE) {
    throw new InvalidPriceError(`${what} has more than ${PRICE_SCALE} decimal places`);
  }
}

function samePurpose(purpose: string | null) {
  return purpose === null ? isNull(modelTariffs.apiKeyPurpose) : eq(modelTariffs.apiKeyPurpose, purpose);
}

/**
 * Price a model: the active tariff for the same purpose (if any) ends now and the new one starts.
 * A tariff with a price above zero makes the model paid for every key.
 */
export async function setModelTariff(db: Database, input: SetTariffInput): Promise<ModelTariff> {
  assertPrice('inputPricePerToken', input.inputPricePerToken);
  assertPrice('outputPricePerToken', input.outputPricePerToken);
  const purpose = input.apiKeyPurpose ?? null;
  return db.transaction(async (tx) => {
    const validFrom = input.validFrom ?? new Date();
    await tx
      .update(modelTariffs)
      .set({ validUntil: sql`greatest(${modelTariffs.validFrom}, ${validFrom.toISOString()}::timestamptz)` })
      .where(
        and(
          eq(modelTariffs.deployedModelId, input.deployedModelId),
          isNull(modelTariffs.validUntil),
          samePurpose(purpose),
        ),
      );
    const [row] = await tx
      .insert(modelTariffs)
      .values({
        deployedModelId: input.deployedModelId,
        name: input.name,
        inputPricePerToken: input.inputPricePerToken,
        outputPricePerToken: input.outputPricePerToken,
        apiKeyPurpose: purpose,
        validFrom,
      })
      .returning();
    if (!row) throw new Error('setModelTariff: insert returned no row');
    return row;
  });
}

/**
 * End a model's active tariffs now: those for `apiKeyPurpose` (null: the any-purpose one), or all
 * of them when it is omitted. Returns how many ended.
 */
export async function endModelTariff(
  db: Database,
  deployedModelId: string,
  apiKeyPurpose?: string | null,
): Promise<number> {
  const rows = await db
    .update(modelTariffs)
    .set({ validUntil: sql`greatest(${modelTariffs.validFrom}, now())` })
    .where(
      and(
        eq(modelTariffs.deployedModelId, deployedModelId),
        isNull(modelTariffs.validUntil),
        ...(apiKeyPurpose === undefined ? [] : [samePurpose(apiKeyPurpose)]),
      ),
    )
    .returning({ id: modelTariffs.id });
  return rows.length;
}

/** The active tariffs of a deployment. */
export function activeTariffs(db: Database, deployedModelId: string): Promise<ModelTariff[]> {
  return db
    .select()
    .from(modelTariffs)
    .where(and(eq(modelTariffs.deployedModelId, deployedModelId), isNull(modelTariffs.validUntil)));
}

/** Whether no active tariff of this alias has a price above zero (an unknown alias is free). */
export async function isModelFree(db: Database, alias: string): Promise<boolean> {
  if (!isStorableText(alias)) return true;
  const result = await db.execute(sql`
    select not exists (
      select 1 from model_tariffs t join deployed_models d on d.id = t.deployed_model_id
      where d.alias = ${alias} and t.valid_until is null
        and (t.input_price_per_token > 0 or t.output_price_per_token > 0)
    ) as free`);
  return rowsOf<{ free: boolean }>(result)[0]?.free === true;
}

/**
 * The prices a request on `alias` with a key of `purpose` is charged at: the active tariff for that
 * purpose, else the one for any purpose, else the dearest active one; null when none is active.
 */
export async function activeTariffFor(
  db: Database,
  alias: string,
  purpose: string,
): Promise<{ inputPricePerToken: Decimal; outputPricePerToken: Decimal } | null> {
  if (!isStorableText(alias) || !isStorableText(purpose)) return null;
  const result = await db.execute(sql`
    select t.input_price_per_token::text as input, t.output_price_per_token::text as output
    from model_tariffs t join deployed_models d on d.id = t.deployed_model_id
    where d.alias = ${alias} and t.valid_until is null
    order by (t.api_key_purpose = ${purpose}) desc nulls last, (t.api_key_purpose is null) desc,
             t.input_price_per_token + t.output_price_per_token desc
    limit 1`);
  const [row] = rowsOf<{ input: string; output: string }>(result);
  return row ? { inputPricePerToken: new Decimal(row.input), outputPricePerToken: new Decimal(row.output) } : null;
}

/**
 * Tariffs, newest first: of one deployment or of all; the active ones only unless `includeEnded`.
 */
export function listTariffs(
  db: Database,
  { deployedModelId, includeEnded = false }: { deployedModelId?: string; includeEnded?: boolean } = {},
): Promise<ModelTariff[]> {
  return db
    .select()
    .from(modelTariffs)
    .where(
      and(
        deployedModelId === undefined ? undefined : eq(modelTariffs.deployedModelId, deployedModelId),
        includeEnded ? undefined : isNull(modelTariffs.validUntil),
      ),
    )
    .orderBy(desc(modelTariffs.validFrom), asc(modelTariffs.apiKeyPurpose));
}
