import {
  createDeployedModel,
  type DeployedModel,
  listDeployedModels,
  listTariffs,
  listTrafficRules,
  MODEL_STATUSES,
  type ModelStatus,
  type ModelTariff,
  SYSTEM_USER_ID,
  softDeleteDeployedModel,
  updateDeployedModel,
} from '@control-layer/db';
import { type Command, Option } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireEndpoint, requireModel } from '../lookup.ts';
import { table } from '../table.ts';

/** A model's active prices at a glance: `0.000001/0.000002` (input/output per token), by purpose; `free` without one. */
export function describePrices(tariffs: ModelTariff[]): string {
  if (tariffs.length === 0) return 'free';
  // The any-purpose tariff first: it is what most keys pay.
  return [...tariffs]
    .sort((a, b) => Number(a.apiKeyPurpose !== null) - Number(b.apiKeyPurpose !== null))
    .map((t) => {
      const prices = `${t.inputPricePerToken.toFixed()}/${t.outputPricePerToken.toFixed()}`;
      return t.apiKeyPurpose === null ? prices : `${t.apiKeyPurpose}: ${prices}`;
    })
    .join('; ');
}

export function tariffJson(t: ModelTariff) {
  return {
    name: t.name,
    purpose: t.apiKeyPurpose,
    input: t.inputPricePerToken.toFixed(),
    output: t.outputPricePerToken.toFixed(),
    validFrom: t.validFrom.toISOString(),
    validUntil: t.validUntil?.toISOString() ?? null,
  };
}

function modelJson(m: DeployedModel, endpoint: string | null) {
  return {
    id: m.id,
    alias: m.alias,
    modelName: m.modelName,
    endpoint,
    status: m.status,
    description: m.description,
    deleted: m.deleted,
    createdAt: m.createdAt.toISOString(),
  };
}

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
    .description(
      'list deployed models with their status and active prices (input/output per token), deleted ones flagged',
    )
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const [listed, tariffs] = await Promise.all([listDeployedModels(db), listTariffs(db)]);
        const rows = listed.map((m) => ({
          ...m,
          createdAt: m.createdAt.toISOString(),
          tariffs: tariffs.filter((t) => t.deployedModelId === m.id),
        }));
        const text =
          rows.length === 0
            ? 'no models'
            : table(
                ['ALIAS', 'MODEL NAME', 'ENDPOINT', 'STATUS', 'PRICE IN/OUT'],
                rows.map((m) => [
                  m.alias,
                  m.modelName,
                  m.endpoint ?? '-',
                  m.deleted ? 'deleted' : m.status,
                  describePrices(m.tariffs),
                ]),
              );
        return { text, json: rows.map((m) => ({ ...m, tariffs: m.tariffs.map(tariffJson) })) };
      }),
    );

  models
    .command('show <alias>')
    .description('one model: its endpoint, status, active tariffs and routing rules')
    .action((alias: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const model = await requireModel(db, alias);
        const [listed, tariffs, rules] = await Promise.all([
          listDeployedModels(db),
          listTariffs(db, { deployedModelId: model.id }),
          listTrafficRules(db, model.id),
        ]);
        const endpoint = listed.find((m) => m.id === model.id)?.endpoint ?? null;
        const json = {
          ...modelJson(model, endpoint),
          tariffs: tariffs.map(tariffJson),
          rules: rules.map((r) => ({ purpose: r.purpose, action: r.action, redirectTo: r.redirectTo })),
        };
        const lines = [
          `model ${model.alias} (${model.status}) ${model.id}`,
          `model name: ${model.modelName} on ${endpoint ?? '-'}`,
          `price in/out per token: ${describePrices(tariffs)}`,
          `rules: ${rules.length === 0 ? 'none' : rules.map((r) => `${r.action} ${r.purpose}`).join(', ')}`,
        ];
        return { text: lines.join('\n'), json };
      }),
    );

  models
    .command('update <alias>')
    .description("change a model's status (inactive: the router stops serving it), model name, endpoint or description")
    .addOption(new Option('--status <status>', 'active or inactive').choices(MODEL_STATUSES))
    .option('--model-name <name>', 'the name the endpoint knows it by')
    .option('--endpoint <name>', 'move it to this endpoint')
    .option('--description <text>', 'what the model is')
    .action(
      (
        alias: string,
        options: { status?: ModelStatus; modelName?: string; endpoint?: string; description?: string },
        command: Command,
      ) =>
        execute(command, async ({ db }) => {
          if (Object.values(options).every((value) => value === undefined)) {
            throw new CliError('nothing to change: give --status, --model-name, --endpoint or --description');
          }
          if (options.modelName !== undefined && options.modelName.trim() === '') {
            throw new CliError('bad --model-name: it is empty');
          }
          const model = await requireModel(db, alias);
          const endpoint = options.endpoint === undefined ? undefined : await requireEndpoint(db, options.endpoint);
          const updated = await updateDeployedModel(db, model.id, {
            ...(options.status !== undefined && { status: options.status }),
            ...(options.modelName !== undefined && { modelName: options.modelName }),
            ...(endpoint !== undefined && { hostedOn: endpoint.id }),
            ...(options.description !== undefined && { description: options.description }),
          });
          if (!updated) throw new CliError(`unknown model ${JSON.stringify(alias)}`);
          const endpointName =
            endpoint?.name ?? (await listDeployedModels(db)).find((m) => m.id === model.id)?.endpoint ?? null;
          return { text: `updated model ${alias} (${updated.status})`, json: modelJson(updated, endpointName) };
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
