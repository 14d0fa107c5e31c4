import { createUser, listUsers, softDeleteUser, type User } from '@control-layer/db';
import type { Command } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireUser } from '../lookup.ts';
import { table } from '../table.ts';

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
  const users = program.command('users').description('create, list and delete users');

  users
    .command('create <username>')
    .description('create a user')
    .option('--email <email>', 'contact address')
    .option('--display-name <name>', 'name shown to people')
    .action((username: string, options: { email?: string; displayName?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        if (username.trim() === '') throw new CliError('the username is empty');
        const user = await createUser(db, {
          username,
          // The column is required (as in dwctl); no address is stored as empty.
          email: options.email ?? '',
          displayName: options.displayName ?? null,
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
}
