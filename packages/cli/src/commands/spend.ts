import {
  ALLOW_NEGATIVE_BALANCE,
  endModelTariff,
  getSpendCheckpoint,
  InvalidPriceError,
  InvalidSpendCapError,
  removeApiKeySpendCap,
  resetApiKeySpendWindow,
  SPEND_LIMIT_INTERVALS,
  type SpendLimitInterval,
  setApiKeySpendCap,
  setModelTariff,
  setUserFeatureFlag,
  UnknownApiKeyError,
} from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import { Argument, type Command, Option } from 'commander';
import { Decimal } from 'decimal.js';
import { parseAmount } from '../amount.ts';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireModel, requireUser } from '../lookup.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function keyId(text: string): string {
  if (!UUID.test(text)) throw new CliError(`bad key id ${JSON.stringify(text)}: expected the id \`keys list\` shows`);
  return text;
}

/** A price per token as typed: a decimal, zero allowed (a free tariff). */
function parsePrice(text: string): Decimal {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new CliError(`bad price ${JSON.stringify(text)}: expected a decimal per token such as 0.000002`);
  }
  return new Decimal(text);
}

/** The typed errors of the queries, as the tool's own. */
async function named<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UnknownApiKeyError) throw new CliError(`unknown or revoked key ${error.apiKeyId}`);
    if (error instanceof InvalidSpendCapError || error instanceof InvalidPriceError) throw new CliError(error.message);
    throw error;
  }
}

function registerCaps(program: Command): void {
  const caps = program.command('caps').description("spending caps of API keys (a key's children count toward it)");

  caps
    .command('set <key-id> <limit>')
    .description('cap what the key may spend per window; a new cap or interval starts a fresh window')
    .addOption(
      new Option('--interval <interval>', 'UTC calendar window (default: a one-off cap)').choices(
        SPEND_LIMIT_INTERVALS,
      ),
    )
    .option('--reset-window', 'start a fresh window even when nothing else changes')
    .action(
      (
        id: string,
        limitText: string,
        options: { interval?: SpendLimitInterval; resetWindow?: true },
        command: Command,
      ) =>
        execute(command, async ({ db }) => {
          const limit = parseAmount(limitText);
          const key = await named(() =>
            setApiKeySpendCap(db, keyId(id), {
              limit,
              interval: options.interval ?? null,
              resetWindow: options.resetWindow === true,
            }),
          );
          const spent = (await getSpendCheckpoint(db, key.id))?.windowSpend ?? new Decimal(0);
          const interval = options.interval ?? 'one-off';
          return {
            text: `capped key ${key.id} at ${formatBalance(limit)} (${interval}); spent ${formatBalance(spent)} in this window`,
            json: {
              key: key.id,
              limit: formatBalance(limit),
              interval: options.interval ?? null,
              windowSpend: formatBalance(spent),
            },
          };
        }),
    );

  caps
    .command('remove <key-id>')
    .description('uncap the key (its spend so far is kept)')
    .action((id: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        if (!(await named(() => removeApiKeySpendCap(db, keyId(id))))) throw new CliError(`key ${id} has no cap`);
        return { text: `removed the cap of key ${id}`, json: { key: id, limit: null } };
      }),
    );

  caps
    .command('reset <key-id>')
    .description('start a fresh window now (window spend 0) and tell the router to readmit the key')
    .action((id: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        await named(() => resetApiKeySpendWindow(db, keyId(id)));
        return { text: `reset the spending window of key ${id}`, json: { key: id, windowSpend: '0.00' } };
      }),
    );
}

function registerTariffs(program: Command): void {
  const tariffs = program
    .command('tariffs')
    .description('prices per token; a model without an active paid tariff is free (no balance or cap applies)');

  tariffs
    .command('set <alias>')
    .description('price a model; the active tariff for the same purpose ends now')
    .requiredOption('--input <price>', 'price per input token')
    .requiredOption('--output <price>', 'price per output token')
    .option('--purpose <purpose>', 'the key purpose it prices (default: any)')
    .option('--name <name>', 'a label', 'default')
    .action(
      (alias: string, options: { input: string; output: string; purpose?: string; name: string }, command: Command) =>
        execute(command, async ({ db }) => {
          const model = await requireModel(db, alias);
          const tariff = await named(() =>
            setModelTariff(db, {
              deployedModelId: model.id,
              name: options.name,
              inputPricePerToken: parsePrice(options.input),
              outputPricePerToken: parsePrice(options.output),
              apiKeyPurpose: options.purpose ?? null,
            }),
          );
          const input = tariff.inputPricePerToken.toFixed();
          const output = tariff.outputPricePerToken.toFixed();
          return {
            text: `${alias} now costs ${input} per input and ${output} per output token (${options.purpose ?? 'any purpose'})`,
            json: { id: tariff.id, model: alias, input, output, purpose: tariff.apiKeyPurpose },
          };
        }),
    );

  tariffs
    .command('end <alias>')
    .description("end a model's active tariffs now (those of --purpose only, if given)")
    .option('--purpose <purpose>', 'only the tariff for this key purpose')
    .action((alias: string, options: { purpose?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const model = await requireModel(db, alias);
        const ended = await endModelTariff(db, model.id, options.purpose);
        if (ended === 0) throw new CliError(`no active tariff on ${alias}`);
        return { text: `ended ${ended} tariff${ended === 1 ? '' : 's'} of ${alias}`, json: { model: alias, ended } };
      }),
    );
}

function registerFlags(program: Command): void {
  program
    .command('flags')
    .description('per-user feature flags')
    .command('set')
    .description(`turn a user's flag on or off (${ALLOW_NEGATIVE_BALANCE}: the balance never stops them)`)
    .argument('<username>')
    .argument('<flag>', 'e.g. ALLOW_NEGATIVE_BALANCE')
    .addArgument(new Argument('<state>').choices(['on', 'off']))
    .action((username: string, flag: string, state: 'on' | 'off', _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(flag)) {
          throw new CliError(`bad flag ${JSON.stringify(flag)}: expected upper-case letters, digits and _`);
        }
        const user = await requireUser(db, username);
        await setUserFeatureFlag(db, user.id, flag, state === 'on');
        return { text: `${flag} is ${state} for ${username}`, json: { user: username, flag, enabled: state === 'on' } };
      }),
    );
}

/** `caps`, `tariffs` and `flags`: what the cap, free-model and exemption checks read. */
export function registerSpend(program: Command): void {
  registerCaps(program);
  registerTariffs(program);
  registerFlags(program);
}
