import { createDeployedModel, listDeployedModels, SYSTEM_USER_ID, softDeleteDeployedModel } from '@control-layer/db';
import type { Command } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireEndpoint, requireModel } from '../lookup.ts';
import { table } from '../table.ts';

export function registerModels(program: Command): void {
  const models = program.command('models').description('deployed models, by the alias clients send as `model`');

  models
    .command('create <alias>')
    .description('deploy a model on an endpoint under an alias')
    .requiredOption('--endpoint <name>', 'the endpoint that hosts it')
    .option('--model-name <name>', 'the name the endpoint knows it by (default: the alias)')
    .action((alias: string, options: { endpoint: string; modelName?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        if (alias.trim() === '') throw new CliError('the alias is empty');
        const endpoint = await requireEndpoint(db, options.endpoint);
        const modelName = options.modelName ?? alias;
        const model = await createDeployedModel(db, {
          alias,
          modelName,
          hostedOn: endpoint.id,
          createdBy: SYSTEM_USER_ID,
        }).catch((error: unknown) => {
          // Aliases stay unique across deleted models too, as in dwctl.
          throw isDuplicate(error) ? new CliError(`a model with alias ${JSON.stringify(alias)} already exists`) : error;
        });
        return {
          text: `created model ${alias} (${model.id}) on ${endpoint.name} as ${modelName}; grant it to a group to use it`,
          json: { id: model.id, alias, modelName, endpoint: endpoint.name },
        };
      }),
    );

  models
    .command('list')
    .description('list deployed models, deleted ones flagged')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const rows = (await listDeployedModels(db)).map((m) => ({ ...m, createdAt: m.createdAt.toISOString() }));
        const text =
          rows.length === 0
            ? 'no models'
            : table(
                ['ALIAS', 'MODEL NAME', 'ENDPOINT', 'STATE'],
                rows.map((m) => [m.alias, m.modelName, m.endpoint ?? '-', m.deleted ? 'deleted' : 'active']),
              );
        return { text, json: rows };
      }),
    );

  models
    .command('delete <alias>')
    .description('soft-delete a model: requests for it are refused; the alias stays taken')
    .action((alias: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const model = await requireModel(db, alias);
        await softDeleteDeployedModel(db, model.id);
        return { text: `deleted model ${alias}`, json: { id: model.id, alias, deleted: true } };
      }),
    );
}
