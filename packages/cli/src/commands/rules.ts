import {
  API_KEY_PURPOSES,
  type ApiKeyPurpose,
  listTrafficRules,
  removeTrafficRule,
  setTrafficRule,
} from '@control-layer/db';
import { Argument, type Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireModel } from '../lookup.ts';
import { table } from '../table.ts';

const purposeArgument = () => new Argument('<purpose>', 'the key purpose').choices(API_KEY_PURPOSES);

export function registerRules(program: Command): void {
  const rules = program.command('rules').description('routing rules: block keys of one purpose on a model');

  rules
    .command('list')
    .description('list routing rules, by model and purpose')
    .option('--model <alias>', "only this model's rules")
    .action((options: { model?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const model = options.model === undefined ? undefined : await requireModel(db, options.model);
        const rows = (await listTrafficRules(db, model?.id)).map((r) => ({
          ...r,
          createdAt: r.createdAt.toISOString(),
        }));
        const text =
          rows.length === 0
            ? 'no rules'
            : table(
                ['MODEL', 'PURPOSE', 'ACTION', 'TARGET'],
                rows.map((r) => [r.model, r.purpose, r.action, r.redirectTo ?? '-']),
              );
        return { text, json: rows };
      }),
    );

  rules
    .command('deny')
    .description('refuse keys of this purpose on the model (replaces any rule for that pair)')
    .argument('<alias>', 'the model')
    .addArgument(purposeArgument())
    .action((alias: string, purpose: ApiKeyPurpose, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const model = await requireModel(db, alias);
        await setTrafficRule(db, { deployedModelId: model.id, apiKeyPurpose: purpose, action: 'deny' });
        return { text: `${purpose} keys are denied on ${alias}`, json: { model: alias, purpose, action: 'deny' } };
      }),
    );

  rules
    .command('remove')
    .description('remove the rule for this model and purpose')
    .argument('<alias>', 'the model')
    .addArgument(purposeArgument())
    .action((alias: string, purpose: ApiKeyPurpose, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const model = await requireModel(db, alias);
        if (!(await removeTrafficRule(db, model.id, purpose))) {
          throw new CliError(`no rule for ${purpose} keys on ${alias}`);
        }
        return {
          text: `removed the rule for ${purpose} keys on ${alias}`,
          json: { model: alias, purpose, action: null },
        };
      }),
    );
}
