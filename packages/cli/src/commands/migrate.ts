import { migrate } from '@control-layer/db';
import type { Command } from 'commander';
import { redactedTarget } from '../database-url.ts';
import { execute } from '../execute.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      'apply the pending schema migrations (safe to repeat); the only command that creates a missing embedded database',
    )
    .action((_options: object, command: Command) =>
      execute(
        command,
        async ({ db, target }) => {
          const { applied, total } = await migrate(db);
          const database = redactedTarget(target);
          const text =
            applied === 0
              ? `${database} is up to date (${total} migrations)`
              : `applied ${applied} migration${applied === 1 ? '' : 's'} to ${database} (${total} in all)`;
          return { text, json: { migrated: true, applied, total, database } };
        },
        { create: true },
      ),
    );
}
