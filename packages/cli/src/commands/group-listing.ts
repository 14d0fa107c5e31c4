import {
  deleteGroup,
  EVERYONE_GROUP_ID,
  type GroupMember,
  listGroupMembers,
  listGroupModels,
  listGroups,
} from '@control-layer/db';
import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireGroup } from '../lookup.ts';
import { table } from '../table.ts';

function memberJson(member: GroupMember) {
  return {
    username: member.username,
    email: member.email === '' ? null : member.email,
    deleted: member.deleted,
    joinedAt: member.joinedAt?.toISOString() ?? null,
  };
}

function membersTable(members: GroupMember[]): string {
  return table(
    ['USERNAME', 'EMAIL', 'STATE', 'JOINED'],
    members.map((m) => [
      m.username,
      m.email || '-',
      m.deleted ? 'deleted' : 'active',
      m.joinedAt?.toISOString() ?? '(implicit)',
    ]),
  );
}

/** `groups list`, `groups show`, `groups members`, `groups delete`, on the `groups` group. */
export function registerGroupListing(groups: Command): void {
  groups
    .command('list')
    .description('list groups with how many members and models each has')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const rows = (await listGroups(db)).map((g) => ({ ...g, createdAt: g.createdAt.toISOString() }));
        const text = table(
          ['NAME', 'MEMBERS', 'MODELS', 'DESCRIPTION'],
          rows.map((g) => [g.name, String(g.members), String(g.models), g.description ?? '-']),
        );
        return { text, json: rows };
      }),
    );

  groups
    .command('show <name>')
    .description('one group: its description, members and models')
    .action((name: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, name);
        const [members, models] = await Promise.all([listGroupMembers(db, group.id), listGroupModels(db, group.id)]);
        const json = {
          id: group.id,
          name: group.name,
          description: group.description,
          members: members.map(memberJson),
          models,
        };
        const lines = [
          `group ${group.name} ${group.id}`,
          `description: ${group.description ?? '-'}`,
          `models: ${models.length === 0 ? 'none' : models.join(', ')}`,
          `members: ${members.length === 0 ? 'none' : members.map((m) => m.username).join(', ')}`,
        ];
        return { text: lines.join('\n'), json };
      }),
    );

  groups
    .command('members <name>')
    .description("list a group's members (Everyone: every user)")
    .action((name: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, name);
        const members = await listGroupMembers(db, group.id);
        const text = members.length === 0 ? `${group.name} has no members` : membersTable(members);
        return { text, json: members.map(memberJson) };
      }),
    );

  groups
    .command('delete <name>')
    .description('delete a group: its members lose the models it granted (users and models stay)')
    .action((name: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const group = await requireGroup(db, name);
        if (group.id === EVERYONE_GROUP_ID) throw new CliError(`${group.name} holds every user and cannot be deleted`);
        if (!(await deleteGroup(db, group.id))) throw new CliError(`unknown group ${JSON.stringify(name)}`);
        return { text: `deleted group ${group.name}`, json: { id: group.id, name: group.name, deleted: true } };
      }),
    );
}
