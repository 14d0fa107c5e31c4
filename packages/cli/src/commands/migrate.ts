import { migrate } from '@control-layer/db';
import type { Command } from 'commander';
import { redactedUrl } from '../database-url.ts';
import { execute } from '../execute.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply the pending schema migrations (safe to repeat)')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db, url }) => {
        await migrate(db);
        const database = redactedUrl(url);
        return { text: `migrations applied to ${database}`, json: { migrated: true, database } };
      }),
    );
}
