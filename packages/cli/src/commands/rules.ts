import { API_KEY_PURPOSES, type ApiKeyPurpose, removeTrafficRule, setTrafficRule } from '@control-layer/db';
import { Argument, type Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireModel } from '../lookup.ts';

const purposeArgument = () => new Argument('<purpose>', 'the key purpose').choices(API_KEY_PURPOSES);

export function registerRules(program: Command): void {
  const rules = program.command('rules').description('routing rules: block keys of one purpose on a model');

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
