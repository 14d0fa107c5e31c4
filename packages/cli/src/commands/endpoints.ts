import {
  createInferenceEndpoint,
  deleteEndpoint,
  type InferenceEndpoint,
  listEndpoints,
  SYSTEM_USER_ID,
  updateEndpoint,
} from '@control-layer/db';
import type { Command } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireEndpoint } from '../lookup.ts';
import { table } from '../table.ts';

/** An absolute http(s) URL, or a CliError naming what was given. */
function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`bad url ${JSON.stringify(url)}: expected an absolute http(s) URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`bad url ${JSON.stringify(url)}: expected http or https`);
  }
  return url;
}

function endpointJson(endpoint: InferenceEndpoint) {
  return { id: endpoint.id, name: endpoint.name, url: endpoint.url, description: endpoint.description };
}

const duplicateName = (name: string) => (error: unknown) => {
  throw isDuplicate(error) ? new CliError(`an endpoint named ${JSON.stringify(name)} already exists`) : error;
};

export function registerEndpoints(program: Command): void {
  const endpoints = program.command('endpoints').description('inference endpoints that host models');

  endpoints
    .command('create <name> <url>')
    .description('register an inference endpoint')
    .action((name: string, url: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        if (name.trim() === '') throw new CliError('the endpoint name is empty');
        checkUrl(url);
        const endpoint = await createInferenceEndpoint(db, { name, url, createdBy: SYSTEM_USER_ID }).catch(
          duplicateName(name),
        );
        return {
          text: `created endpoint ${name} (${endpoint.id}) at ${url}`,
          json: { id: endpoint.id, name, url },
        };
      }),
    );

  endpoints
    .command('list')
    .description('list inference endpoints')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const rows = (await listEndpoints(db)).map((e) => ({ id: e.id, name: e.name, url: e.url }));
        const text =
          rows.length === 0
            ? 'no endpoints'
            : table(
                ['NAME', 'URL', 'ID'],
                rows.map((e) => [e.name, e.url, e.id]),
              );
        return { text, json: rows };
      }),
    );

  endpoints
    .command('update <name>')
    .description("change an endpoint's URL, name or description (its models follow)")
    .option('--url <url>', 'the new absolute http(s) URL')
    .option('--name <new-name>', 'the new name')
    .option('--description <text>', 'what the endpoint is')
    .action((name: string, options: { url?: string; name?: string; description?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        if (options.url === undefined && options.name === undefined && options.description === undefined) {
          throw new CliError('nothing to change: give --url, --name or --description');
        }
        if (options.url !== undefined) checkUrl(options.url);
        if (options.name !== undefined && options.name.trim() === '') throw new CliError('bad --name: it is empty');
        const endpoint = await requireEndpoint(db, name);
        const updated = await updateEndpoint(db, endpoint.id, {
          ...(options.url !== undefined && { url: options.url }),
          ...(options.name !== undefined && { name: options.name }),
          ...(options.description !== undefined && { description: options.description }),
        }).catch(duplicateName(options.name ?? name));
        if (!updated) throw new CliError(`unknown endpoint ${JSON.stringify(name)}`);
        return { text: `updated endpoint ${updated.name} (${updated.url})`, json: endpointJson(updated) };
      }),
    );

  endpoints
    .command('delete <name>')
    .description('delete an endpoint that hosts no live model (delete or move its models first)')
    .action((name: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const endpoint = await requireEndpoint(db, name);
        const blocking = await deleteEndpoint(db, endpoint.id);
        if (blocking === null) throw new CliError(`unknown endpoint ${JSON.stringify(name)}`);
        if (blocking.length > 0) {
          throw new CliError(
            `endpoint ${name} hosts ${blocking.join(', ')}: delete those models or move them (\`models update --endpoint\`) first`,
          );
        }
        return { text: `deleted endpoint ${name}`, json: { id: endpoint.id, name, deleted: true } };
      }),
    );
}
