import {
  API_KEY_PURPOSES,
  type ApiKeyPurpose,
  Decimal,
  endModelTariff,
  listDeployedModels,
  listTariffs,
  setModelTariff,
} from '@control-layer/db';
import { type Command, Option } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireModel } from '../lookup.ts';
import { table } from '../table.ts';
import { tariffJson } from './models.ts';

/** What a tariff column holds (`numeric(12, 8)`), checked here so the message names the flag. */
const MAX_PRICE = '9999.99999999';
const PRICE_DECIMALS = 8;

/** A price per token as typed: digits with an optional fraction, zero allowed (a free side). */
function parsePrice(flag: string, text: string): Decimal {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new CliError(`bad ${flag} price ${JSON.stringify(text)}: expected dollars per token such as 0.000002`);
  }
  const price = new Decimal(text);
  if (price.decimalPlaces() > PRICE_DECIMALS) {
    throw new CliError(`bad ${flag} price ${JSON.stringify(text)}: at most ${PRICE_DECIMALS} decimal places`);
  }
  if (price.gt(MAX_PRICE)) throw new CliError(`bad ${flag} price ${JSON.stringify(text)}: at most ${MAX_PRICE}`);
  return price;
}

const purposeOption = (description: string) => new Option('--purpose <purpose>', description).choices(API_KEY_PURPOSES);

/** `models tariff`, `models end-tariff`, `models tariffs`: what a model costs per token, on the `models` group. */
export function registerTariffs(models: Command): void {
  models
    .command('tariffs [alias]')
    .description('list the active tariffs (of one model, or of all), newest first; --all adds the ended ones')
    .option('--all', 'include ended tariffs')
    .action((alias: string | undefined, options: { all?: boolean }, command: Command) =>
      execute(command, async ({ db }) => {
        const model = alias === undefined ? undefined : await requireModel(db, alias);
        const [tariffs, listed] = await Promise.all([
          listTariffs(db, { ...(model && { deployedModelId: model.id }), includeEnded: options.all === true }),
          listDeployedModels(db),
        ]);
        const aliasOf = new Map(listed.map((m) => [m.id, m.alias]));
        const rows = tariffs.map((t) => ({
          model: aliasOf.get(t.deployedModelId) ?? t.deployedModelId,
          ...tariffJson(t),
        }));
        const text =
          rows.length === 0
            ? `no ${options.all ? '' : 'active '}tariffs${alias === undefined ? '' : ` for ${alias}`}: ${alias === undefined ? 'every model is' : 'it is'} free`
            : table(
                ['MODEL', 'PURPOSE', 'INPUT', 'OUTPUT', 'NAME', 'FROM', 'UNTIL'],
                rows.map((t) => [
                  t.model,
                  t.purpose ?? 'any',
                  t.input,
                  t.output,
                  t.name,
                  t.validFrom,
                  t.validUntil ?? '-',
                ]),
              );
        return { text, json: rows };
      }),
    );

  models
    .command('tariff <alias>')
    .description(
      'price a model per token from now on (ends its active tariff for the same purpose); any price above 0 makes the model paid, so balances and caps apply to it',
    )
    .requiredOption('--input <price>', 'dollars per prompt token')
    .requiredOption('--output <price>', 'dollars per completion token')
    .addOption(purposeOption('price only keys of this purpose (default: any purpose)'))
    .option('--name <name>', 'a label for the tariff (default: the alias)')
    .action(
      (
        alias: string,
        options: { input: string; output: string; purpose?: ApiKeyPurpose; name?: string },
        command: Command,
      ) =>
        execute(command, async ({ db }) => {
          const input = parsePrice('--input', options.input);
          const output = parsePrice('--output', options.output);
          const model = await requireModel(db, alias);
          const tariff = await setModelTariff(db, {
            deployedModelId: model.id,
            name: options.name ?? alias,
            inputPricePerToken: input,
            outputPricePerToken: output,
            apiKeyPurpose: options.purpose ?? null,
          });
          const json = {
            model: alias,
            name: tariff.name,
            input: tariff.inputPricePerToken.toFixed(),
            output: tariff.outputPricePerToken.toFixed(),
            purpose: tariff.apiKeyPurpose,
            validFrom: tariff.validFrom.toISOString(),
          };
          const paid = input.gt(0) || output.gt(0);
          return {
            text: `${alias} costs ${json.input} per input and ${json.output} per output token for ${json.purpose ?? 'any'} keys (${paid ? 'paid' : 'free'})`,
            json,
          };
        }),
    );

  models
    .command('end-tariff <alias>')
    .description("end a model's active tariffs now (with --purpose, only that purpose's); without one it is free")
    .addOption(purposeOption("end only this purpose's tariff"))
    .action((alias: string, options: { purpose?: ApiKeyPurpose }, command: Command) =>
      execute(command, async ({ db }) => {
        const model = await requireModel(db, alias);
        const ended = await endModelTariff(db, model.id, options.purpose);
        if (ended === 0) {
          throw new CliError(
            `no active tariff on ${alias}${options.purpose === undefined ? '' : ` for ${options.purpose} keys`}`,
          );
        }
        return {
          text: `ended ${ended} tariff${ended === 1 ? '' : 's'} of ${alias}`,
          json: { model: alias, ended, purpose: options.purpose ?? null },
        };
      }),
    );
}
