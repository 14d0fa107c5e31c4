import { createInferenceEndpoint, listEndpoints, SYSTEM_USER_ID } from '@control-layer/db';
import type { Command } from 'commander';
import { CliError, isDuplicate } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { table } from '../table.ts';

export function registerEndpoints(program: Command): void {
  const endpoints = program.command('endpoints').description('inference endpoints that host models');

  endpoints
    .command('create <name> <url>')
    .description('register an inference endpoint')
    .action((name: string, url: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        let parsed: URL;
        try {
          parsed = new URL(url);
        } catch {
          throw new CliError(`bad url ${JSON.stringify(url)}: expected an absolute http(s) URL`);
        }
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
          throw new CliError(`bad url ${JSON.stringify(url)}: expected http or https`);
        }
        const endpoint = await createInferenceEndpoint(db, { name, url, createdBy: SYSTEM_USER_ID }).catch(
          (error: unknown) => {
            throw isDuplicate(error) ? new CliError(`an endpoint named ${JSON.stringify(name)} already exists`) : error;
          },
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
}
