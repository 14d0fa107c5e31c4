import { activeTariffFor, type Database, Decimal, recordUsage } from '@control-layer/db';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * Charge a served completion as usage against the key, at the model's active tariff (tokens ×
 * price per token), so demo keys really run down their balance and into their caps. A model
 * without an active tariff costs nothing; a zero cost records nothing (the ledger holds only
 * positive amounts). `sourceId` (the completion id) makes a replay charge nothing twice.
 */
export async function chargeUsage(
  db: Database,
  input: { keyId: string; purpose: string; model: string; usage: Usage; sourceId: string },
): Promise<Decimal> {
  const tariff = await activeTariffFor(db, input.model, input.purpose);
  if (!tariff) return new Decimal(0);
  const cost = tariff.inputPricePerToken
    .times(input.usage.prompt_tokens)
    .plus(tariff.outputPricePerToken.times(input.usage.completion_tokens));
  if (cost.lte(0)) return cost;
  await recordUsage(db, {
    apiKeyId: input.keyId,
    amount: cost,
    sourceId: input.sourceId,
    description: `${input.model}: ${input.usage.prompt_tokens} prompt + ${input.usage.completion_tokens} completion tokens`,
  });
  return cost;
}
