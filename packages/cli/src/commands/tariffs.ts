import { API_KEY_PURPOSES, type ApiKeyPurpose, Decimal, endModelTariff, setModelTariff } from '@control-layer/db';
import { type Command, Option } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireModel } from '../lookup.ts';

/** A price per token as typed: digits with an optional fraction, zero allowed (a free side). */
function parsePrice(what: string, text: string): Decimal {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new CliError(`bad ${what} price ${JSON.stringify(text)}: expected dollars per token such as 0.000002`);
  }
  return new Decimal(text);
}

const purposeOption = (description: string) => new Option('--purpose <purpose>', description).choices(API_KEY_PURPOSES);

/** `models tariff`, `models end-tariff`: what a model costs per token, on the `models` group. */
export function registerTariffs(models: Command): void {
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
          const input = parsePrice('input', options.input);
          const output = parsePrice('output', options.output);
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
