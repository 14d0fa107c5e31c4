import { Command } from 'commander';
import { registerCredits } from './commands/credits.ts';
import { registerEndpoints } from './commands/endpoints.ts';
import { registerExplain } from './commands/explain.ts';
import { registerFeatureFlags } from './commands/feature-flags.ts';
import { registerGroupListing } from './commands/group-listing.ts';
import { registerGroups } from './commands/groups.ts';
import { registerKeyExpiry } from './commands/key-expiry.ts';
import { registerKeys } from './commands/keys.ts';
import { registerLedger } from './commands/ledger.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerModels } from './commands/models.ts';
import { registerRules } from './commands/rules.ts';
import { registerSpendCaps } from './commands/spend-caps.ts';
import { registerTariffs } from './commands/tariffs.ts';
import { registerUsers } from './commands/users.ts';

/**
 * The `control-layer` program. Each command group lives in a file of its own under commands/ and
 * registers itself here; a new group is one new file and one line below, and so are commands
 * added to an existing group.
 */
export function createProgram(): Command {
  const program = new Command('control-layer')
    .description('Administer the Control Layer database: users, API keys, models, groups, rules and credits.')
    .option('--json', 'print exactly one JSON document on stdout')
    .option(
      '--database-url <url>',
      'a postgres:// URL or pglite:<directory> (default: $DATABASE_URL, else the embedded ./.data/pglite); other local users see it in the process list, so prefer DATABASE_URL',
    )
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ outputError: (message, write) => write(`control-layer: ${message.replace(/^error: /, '')}`) });
  for (const register of [
    registerMigrate,
    registerUsers,
    registerKeys,
    registerEndpoints,
    registerModels,
    registerGroups,
    registerRules,
    registerCredits,
    registerExplain,
    registerLedger,
  ]) {
    register(program);
  }
  // Commands that join an existing group (`keys cap`, `keys expire`, `models tariff`, `users flag`, `groups list`).
  for (const [group, register] of [
    ['keys', registerSpendCaps],
    ['keys', registerKeyExpiry],
    ['models', registerTariffs],
    ['users', registerFeatureFlags],
    ['groups', registerGroupListing],
  ] as const) {
    const parent = program.commands.find((command) => command.name() === group);
    if (!parent) throw new Error(`no ${group} command to extend`);
    register(parent);
  }
  return program;
}
