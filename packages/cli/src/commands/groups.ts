import {
  addDeploymentToGroup,
  addUserToGroup,
  createGroup,
  EVERYONE_GROUP_ID,
  removeDeploymentFromGroup,
  removeUserFromGroup,
  SYSTEM_USER_ID,
} from '@control-layer/db';
import type { Command } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireGroup, requireModel, requireUser } from '../lookup.ts';

/** Everyone's membership is implicit (every user but the system user), so it cannot be edited. */
function refuseEveryone(groupId: string, name: string): void {
  if (groupId === EVERYONE_GROUP_ID) {
    throw new CliError(`every user belongs to ${name} already; its membership cannot be changed`);
  }
}

export function registerGroups(program: Command): void {
  const groups = program
    .command('groups')
    .description('groups of users, and which models they reach (the group Everyone holds every user)');

  groups
    .command('create <name>')
    .description('create a group')
    .option('--description <text>', 'what the group is for')
    .action((name: string, options: { description?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        if (name.trim() === '') throw new CliError('the group name is empty');
        const group = await createGroup(db, {
          name,
          description: options.description ?? null,
          createdBy: SYSTEM_USER_ID,
        }).catch((error: unknown) => {
          throw isDuplicate(error) ? new CliError(`a group named ${JSON.stringify(name)} already exists`) : error;
        });
        return { text: `created group ${name} (${group.id})`, json: { id: group.id, name } };
      }),
    );

  groups
    .command('add-user <group> <username>')
    .description('make a user a member of a group')
    .action((groupName: string, username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, groupName);
        refuseEveryone(group.id, group.name);
        const user = await requireUser(db, username);
        await addUserToGroup(db, user.id, group.id);
        return {
          text: `${username} is a member of ${group.name}`,
          json: { group: group.name, user: username, member: true },
        };
      }),
    );

  groups
    .command('remove-user <group> <username>')
    .description('take a user out of a group')
    .action((groupName: string, username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, groupName);
        refuseEveryone(group.id, group.name);
        const user = await requireUser(db, username, { allowDeleted: true });
        if (!(await removeUserFromGroup(db, user.id, group.id))) {
          throw new CliError(`${username} is not a member of ${group.name}`);
        }
        return {
          text: `${username} is no longer a member of ${group.name}`,
          json: { group: group.name, user: username, member: false },
        };
      }),
    );

  groups
    .command('grant <group> <alias>')
    .description("let a group's members use a model")
    .action((groupName: string, alias: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, groupName);
        const model = await requireModel(db, alias);
        await addDeploymentToGroup(db, model.id, group.id, SYSTEM_USER_ID);
        return { text: `${group.name} can use ${alias}`, json: { group: group.name, model: alias, granted: true } };
      }),
    );

  groups
    .command('revoke <group> <alias>')
    .description("withdraw a group's access to a model")
    .action((groupName: string, alias: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, groupName);
        const model = await requireModel(db, alias);
        if (!(await removeDeploymentFromGroup(db, model.id, group.id))) {
          throw new CliError(`${group.name} has no access to ${alias}`);
        }
        return {
          text: `${group.name} can no longer use ${alias}`,
          json: { group: group.name, model: alias, granted: false },
        };
      }),
    );
}
