import {
  API_KEY_PURPOSES,
  type ApiKeyPurpose,
  createApiKey,
  deleteApiKey,
  listApiKeys,
  SYSTEM_USER_ID,
} from '@control-layer/db';
import { type Command, Option } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireUser } from '../lookup.ts';
import { table } from '../table.ts';
import { creationExpiry, type ExpiryOptions, expiryOptions, formatInstant } from './key-expiry.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create, list and revoke API keys');
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
    .description("list a user's keys (never their secrets)")
    .action((username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username, { allowDeleted: true });
        const rows = (await listApiKeys(db, user.id)).map((key) => ({
          id: key.id,
          name: key.name,
          purpose: key.purpose,
          revoked: key.isDeleted,
          createdAt: key.createdAt.toISOString(),
          lastUsed: key.lastUsed?.toISOString() ?? null,
          expiresAt: key.expiresAt?.toISOString() ?? null,
        }));
        const text =
          rows.length === 0
            ? `${username} has no keys`
            : table(
                ['ID', 'PURPOSE', 'NAME', 'STATE', 'CREATED', 'EXPIRES'],
                rows.map((k) => [
                  k.id,
                  k.purpose,
                  k.name,
                  k.revoked ? 'revoked' : 'active',
                  k.createdAt,
                  k.expiresAt ? formatInstant(new Date(k.expiresAt)) : 'never',
                ]),
              );
        return { text, json: rows };
      }),
    );

  keys
    .command('revoke <key-id>')
    .description('revoke a key: it stops working at once')
    .action((keyId: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        if (!UUID.test(keyId))
          throw new CliError(`bad key id ${JSON.stringify(keyId)}: expected the id \`keys list\` shows`);
        if (!(await deleteApiKey(db, keyId))) throw new CliError(`unknown or already revoked key ${keyId}`);
        return { text: `revoked key ${keyId}`, json: { id: keyId, revoked: true } };
      }),
    );
}
