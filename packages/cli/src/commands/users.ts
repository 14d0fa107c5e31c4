import {
  ALLOW_NEGATIVE_BALANCE,
  createUser,
  getUserBalance,
  hasUserFeatureFlag,
  listApiKeys,
  listUserGroups,
  listUsers,
  restoreUser,
  softDeleteUser,
  type User,
  type UserPatch,
  updateUser,
} from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import type { Command } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireUser } from '../lookup.ts';
import { table } from '../table.ts';
import { checkDisplayName, checkEmail, checkUsername, EMAIL_RULE, USERNAME_RULE } from '../user-fields.ts';

function userJson(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email === '' ? null : user.email,
    displayName: user.displayName,
    isAdmin: user.isAdmin,
    deleted: user.isDeleted,
    createdAt: user.createdAt.toISOString(),
  };
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('create, list, show, update, delete and restore users');

  users
    .command('create <username>')
    .description(`create a user; a username is ${USERNAME_RULE}`)
    .option('--email <email>', `contact address: ${EMAIL_RULE}`)
    .option('--display-name <name>', 'name shown to people')
    .action((username: string, options: { email?: string; displayName?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        checkUsername(username);
        const user = await createUser(db, {
          username,
          // The column is required (as in dwctl); no address is stored as empty.
          email: checkEmail(options.email ?? ''),
          displayName: options.displayName === undefined ? null : checkDisplayName(options.displayName),
        }).catch((error: unknown) => {
          throw isDuplicate(error) ? new CliError(`a user named ${JSON.stringify(username)} already exists`) : error;
        });
        return { text: `created user ${user.username} (${user.id})`, json: userJson(user) };
      }),
    );

  users
    .command('list')
    .description('list users, deleted ones flagged')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const rows = await listUsers(db);
        const text =
          rows.length === 0
            ? 'no users'
            : table(
                ['USERNAME', 'EMAIL', 'ID', 'STATE'],
                rows.map((u) => [u.username, u.email || '-', u.id, u.isDeleted ? 'deleted' : 'active']),
              );
        return { text, json: rows.map(userJson) };
      }),
    );

  users
    .command('show <username>')
    .description('one user: details, groups, balance, keys and the exemption flag')
    .action((username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username, { allowDeleted: true });
        const [groups, balance, keys, exempt] = await Promise.all([
          listUserGroups(db, user.id),
          getUserBalance(db, user.id),
          listApiKeys(db, user.id),
          hasUserFeatureFlag(db, user.id, ALLOW_NEGATIVE_BALANCE),
        ]);
        const liveKeys = keys.filter((k) => !k.isDeleted).length;
        const json = {
          ...userJson(user),
          groups,
          balance: formatBalance(balance),
          keys: { live: liveKeys, revoked: keys.length - liveKeys },
          allowNegativeBalance: exempt,
        };
        const lines = [
          `user ${user.username} (${user.isDeleted ? 'deleted' : 'active'}) ${user.id}`,
          `email: ${json.email ?? '-'}`,
          `display name: ${user.displayName ?? '-'}`,
          `groups: Everyone${groups.map((g) => `, ${g}`).join('')}`,
          `balance: ${json.balance}${exempt ? ` (${ALLOW_NEGATIVE_BALANCE})` : ''}`,
          `keys: ${json.keys.live} live, ${json.keys.revoked} revoked`,
        ];
        return { text: lines.join('\n'), json };
      }),
    );

  users
    .command('update <username>')
    .description('change a live user\'s email or display name (--email "" removes the address)')
    .option('--email <email>', `contact address: ${EMAIL_RULE}`)
    .option('--display-name <name>', 'name shown to people (--display-name "" removes it)')
    .action((username: string, options: { email?: string; displayName?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const patch: UserPatch = {};
        // Only the fields given are checked and written: an older row's other fields stay as they are.
        if (options.email !== undefined) patch.email = checkEmail(options.email);
        if (options.displayName !== undefined) {
          patch.displayName = options.displayName === '' ? null : checkDisplayName(options.displayName);
        }
        if (Object.keys(patch).length === 0) throw new CliError('nothing to change: give --email or --display-name');
        const user = await requireUser(db, username);
        const updated = await updateUser(db, user.id, patch);
        if (!updated) throw new CliError(`user ${JSON.stringify(username)} is deleted`);
        return { text: `updated user ${username}`, json: userJson(updated) };
      }),
    );

  users
    .command('delete <username>')
    .description('soft-delete a user: the row stays, flagged; their keys stop working')
    .action((username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username, { allowDeleted: true });
        if (!(await softDeleteUser(db, user.id)))
          throw new CliError(`user ${JSON.stringify(username)} is already deleted`);
        return { text: `deleted user ${username}`, json: { id: user.id, username, deleted: true } };
      }),
    );

  users
    .command('restore <username>')
    .description('undo a soft delete: the user and their keys that were not revoked work again')
    .action((username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username, { allowDeleted: true });
        if (!(await restoreUser(db, user.id))) throw new CliError(`user ${JSON.stringify(username)} is not deleted`);
        return { text: `restored user ${username}`, json: { id: user.id, username, deleted: false } };
      }),
    );
}
