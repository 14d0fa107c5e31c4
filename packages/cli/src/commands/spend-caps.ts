import {
  type Database,
  findApiKeyById,
  getSpendCheckpoint,
  removeApiKeySpendCap,
  resetApiKeySpendWindow,
  SPEND_LIMIT_INTERVALS,
  type SpendLimitInterval,
  setApiKeySpendCap,
} from '@control-layer/db';
import { type Command, Option } from 'commander';
import { parseAmount } from '../amount.ts';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireKeyId } from '../lookup.ts';

const PER: Record<SpendLimitInterval, string> = { daily: 'a day', weekly: 'a week', monthly: 'a month' };

/** The live key with this id, and the root of its cap scope (itself, or its parent). */
async function requireLiveKey(db: Database, keyId: string) {
  const key = await findApiKeyById(db, requireKeyId(keyId));
  if (!key || key.isDeleted) throw new CliError(`unknown or revoked key ${keyId}`);
  return key;
}

/** What a scope has spent: its window and lifetime totals (0 before any capped usage). */
async function spendOf(db: Database, rootKeyId: string) {
  const checkpoint = await getSpendCheckpoint(db, rootKeyId);
  return {
    windowSpend: checkpoint?.windowSpend.toFixed() ?? '0',
    totalSpend: checkpoint?.totalSpend.toFixed() ?? '0',
    windowStartedAt: checkpoint?.windowStartedAt.toISOString() ?? null,
  };
}

/** `keys cap`, `keys uncap`, `keys reset-window`: a key's spending cap, on the `keys` group. */
export function registerSpendCaps(keys: Command): void {
  keys
    .command('cap <key-id> <amount>')
    .description(
      'cap what the key and its child keys may spend: per UTC day, week or month with --interval, else once; a new cap or interval starts a fresh window',
    )
    .addOption(new Option('--interval <interval>', 'the window the cap applies to').choices(SPEND_LIMIT_INTERVALS))
    .option('--reset-window', 'start a fresh window even when only the amount changes')
    .action(
      (
        keyId: string,
        amount: string,
        options: { interval?: SpendLimitInterval; resetWindow?: boolean },
        command: Command,
      ) =>
        execute(command, async ({ db }) => {
          const limit = parseAmount(amount);
          const key = await requireLiveKey(db, keyId);
          if (key.parentApiKeyId !== null) {
            throw new CliError(`key ${keyId} is a child key: cap its parent ${key.parentApiKeyId}`);
          }
          const interval = options.interval ?? null;
          const capped = await setApiKeySpendCap(db, key.id, {
            limit,
            interval,
            resetWindow: options.resetWindow === true,
          });
          const spend = await spendOf(db, key.id);
          const per = interval === null ? 'once' : PER[interval];
          return {
            text: `capped key ${key.id} at ${limit.toFixed()} ${per} (spent ${spend.windowSpend} this window)`,
            json: { id: capped.id, spendLimit: capped.spendLimit?.toFixed() ?? null, interval, ...spend },
          };
        }),
    );

  keys
    .command('uncap <key-id>')
    .description("remove the key's spending cap (its spend so far is kept)")
    .action((keyId: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const key = await requireLiveKey(db, keyId);
        if (!(await removeApiKeySpendCap(db, key.id))) throw new CliError(`key ${keyId} has no spending cap`);
        return { text: `removed the spending cap of key ${key.id}`, json: { id: key.id, spendLimit: null } };
      }),
    );

  keys
    .command('reset-window <key-id>')
    .description("start a fresh cap window now for the key's scope: window spend 0, the router readmits it")
    .action((keyId: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const key = await requireLiveKey(db, keyId);
        const rootId = key.parentApiKeyId ?? key.id;
        const root = rootId === key.id ? key : await findApiKeyById(db, rootId);
        if (!root || root.spendLimit === null) throw new CliError(`key ${keyId} has no spending cap`);
        await resetApiKeySpendWindow(db, key.id);
        const spend = await spendOf(db, rootId);
        return {
          text: `started a fresh window for key ${rootId} (cap ${root.spendLimit.toFixed()})`,
          json: { id: rootId, spendLimit: root.spendLimit.toFixed(), interval: root.spendLimitInterval, ...spend },
        };
      }),
    );
}
