import {
  API_KEY_PURPOSES,
  type ApiKeyPurpose,
  type ApiKeyWithSpend,
  createApiKey,
  deleteApiKey,
  findUserById,
  listApiKeysWithSpend,
  listChildKeys,
  rotateApiKey,
  SYSTEM_USER_ID,
  UnknownApiKeyError,
} from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import { type Command, Option } from 'commander';
import { describeCap } from '../amount.ts';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireKey, requireKeyId, requireUser } from '../lookup.ts';
import { type Column, columns } from '../table.ts';
import { creationExpiry, type ExpiryOptions, expiryOptions, formatInstant } from './key-expiry.ts';

/** A key as `--json` shows it: metadata, the cap of its scope (its parent's for a child) and the spend. */
function keyJson(key: ApiKeyWithSpend) {
  return {
    id: key.id,
    name: key.name,
    purpose: key.purpose,
    revoked: key.isDeleted,
    parentId: key.parentApiKeyId,
    spendLimit: key.scopeLimit === null ? null : formatBalance(key.scopeLimit),
    spendLimitInterval: key.scopeInterval,
    windowSpend: formatBalance(key.windowSpend),
    totalSpend: formatBalance(key.totalSpend),
    createdAt: key.createdAt.toISOString(),
    lastUsed: key.lastUsed?.toISOString() ?? null,
    expiresAt: key.expiresAt?.toISOString() ?? null,
  };
}

/** The columns of `keys list`: a column more is one line more. */
const KEY_COLUMNS: Column<ApiKeyWithSpend>[] = [
  ['ID', (k) => k.id],
  ['PURPOSE', (k) => k.purpose],
  ['NAME', (k) => k.name],
  ['STATE', (k) => (k.isDeleted ? 'revoked' : 'active')],
  ['CAP', (k) => `${describeCap(k.scopeLimit, k.scopeInterval)}${k.parentApiKeyId && k.scopeLimit ? ' (parent)' : ''}`],
  ['WINDOW SPEND', (k) => (k.scopeLimit === null ? '-' : formatBalance(k.windowSpend))],
  ['CREATED', (k) => k.createdAt.toISOString()],
  ['EXPIRES', (k) => (k.expiresAt ? formatInstant(k.expiresAt) : 'never')],
];

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create, list, show, rotate, expire and revoke API keys');
  const [expiresInOption, expiresAtOption] = expiryOptions();

  keys
    .command('create <username>')
    .description('create a key for a user and print its secret, once')
    .addOption(new Option('--purpose <purpose>', 'what the key is for').choices(API_KEY_PURPOSES).default('realtime'))
    .option('--name <name>', 'a label for the key')
    .addOption(expiresInOption)
    .addOption(expiresAtOption)
    .action((username: string, options: { purpose: ApiKeyPurpose; name?: string } & ExpiryOptions, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username);
        const expiresAt = await creationExpiry(db, options);
        const { key, secret } = await createApiKey(db, {
          expiresAt,
          userId: user.id,
          createdBy: SYSTEM_USER_ID,
          name: options.name ?? `${username} ${options.purpose}`,
          purpose: options.purpose,
        });
        return {
          text: [
            `created ${key.purpose} key ${key.id} for ${username}${expiresAt ? `, expiring at ${formatInstant(expiresAt)}` : ''}`,
            secret,
            'This is the only time the secret is shown: store it now.',
          ].join('\n'),
          json: {
            id: key.id,
            secret,
            purpose: key.purpose,
            user: username,
            expiresAt: expiresAt?.toISOString() ?? null,
          },
        };
      }),
    );

  keys
    .command('list <username>')
    .description("list a user's keys with the cap of each key's scope and its spend this window (never a secret)")
    .action((username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username, { allowDeleted: true });
        const rows = await listApiKeysWithSpend(db, user.id);
        const text = rows.length === 0 ? `${username} has no keys` : columns(KEY_COLUMNS, rows);
        return { text, json: rows.map(keyJson) };
      }),
    );

  keys
    .command('show <key-id>')
    .description('one key: its owner, settings, cap, spend and child keys (never its secret)')
    .action((keyId: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const key = await requireKey(db, keyId);
        const [children, owner] = await Promise.all([listChildKeys(db, key.id), findUserById(db, key.userId)]);
        const json = {
          ...keyJson(key),
          user: owner?.username ?? null,
          userId: key.userId,
          description: key.description,
          hidden: key.hidden,
          children: children.map((c) => ({ id: c.id, purpose: c.purpose, revoked: c.isDeleted })),
        };
        const lines = [
          `key ${key.id} (${json.revoked ? 'revoked' : 'active'})`,
          `name: ${key.name}`,
          `purpose: ${key.purpose}`,
          `owner: ${owner?.username ?? '-'} (${key.userId})`,
          `cap: ${describeCap(key.scopeLimit, key.scopeInterval)}${key.parentApiKeyId ? ` (of parent ${key.parentApiKeyId})` : ''}`,
          `spent: ${json.windowSpend} this window, ${json.totalSpend} while capped`,
          `created: ${json.createdAt}; last used: ${json.lastUsed ?? 'never'}; expires: ${json.expiresAt ?? 'never'}`,
          ...children.map((c) => `child: ${c.id} ${c.purpose}${c.isDeleted ? ' (revoked)' : ''}`),
        ];
        return { text: lines.join('\n'), json };
      }),
    );

  keys
    .command('rotate <key-id>')
    .description(
      'give a key a new secret and revoke the old secret at once; the key keeps its id and everything else (purpose, cap and its spend, expiry, parent, child keys); the new secret is printed once',
    )
    .action((keyId: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const current = await requireKey(db, keyId);
        if (current.isDeleted) throw new CliError(`unknown or revoked key ${keyId}`);
        const owner = await findUserById(db, current.userId);
        // A deleted user's keys do not work; a fresh secret for one would only look as if it did.
        if (owner?.isDeleted) {
          throw new CliError(
            `key ${keyId} belongs to the deleted user ${JSON.stringify(owner.username)}: restore them first`,
          );
        }
        const { key, secret } = await rotateApiKey(db, current.id).catch((error: unknown) => {
          throw error instanceof UnknownApiKeyError ? new CliError(`unknown or revoked key ${keyId}`) : error;
        });
        return {
          text: [
            `${key.purpose} key ${key.id} has a new secret; the old one no longer works`,
            secret,
            'This is the only time the secret is shown: store it now.',
          ].join('\n'),
          json: { id: key.id, secret, purpose: key.purpose },
        };
      }),
    );

  keys
    .command('revoke <key-id>')
    .description('revoke a key: it stops working at once')
    .action((keyId: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        if (!(await deleteApiKey(db, requireKeyId(keyId))))
          throw new CliError(`unknown or already revoked key ${keyId}`);
        return { text: `revoked key ${keyId}`, json: { id: keyId, revoked: true } };
      }),
    );
}
