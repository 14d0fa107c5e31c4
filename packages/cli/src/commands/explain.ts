import { explainDenial } from '@control-layer/db';
import { DIALECTS, type Dialect, diagnoseDenial, errorResponse, formatBalance } from '@control-layer/enrichment';
import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { readSecret } from '../read-secret.ts';

function parseDialect(text: string): Dialect {
  const dialect = DIALECTS.find((d) => d === text);
  if (!dialect) throw new CliError(`bad dialect ${JSON.stringify(text)}: expected one of ${DIALECTS.join(', ')}`);
  return dialect;
}

export function registerExplain(program: Command): void {
  program
    .command('explain <model>')
    .description(
      'what the middleware would answer if the router refused this key for this model with a 403; the key comes from stdin or --key-file',
    )
    .option('--key-file <path>', 'read the key from this file instead of stdin')
    .option('--dialect <dialect>', `print the whole answer a client of this dialect gets (${DIALECTS.join(', ')})`)
    .action((model: string, options: { keyFile?: string; dialect?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const dialect = options.dialect === undefined ? undefined : parseDialect(options.dialect);
        const secret = await readSecret(options.keyFile);
        // The verdict reads the key and the model only: the same whichever dialect asked.
        const facts = await explainDenial(db, secret, model);
        if (!facts) {
          // The middleware tells an unknown key nothing, and neither does this.
          return {
            text: 'nothing to explain: the key is unknown or revoked; the router’s 403 passes through unchanged',
            json: { explained: false, reason: 'unknown_key', status: 403 },
          };
        }
        const balance = formatBalance(facts.balance);
        const denial = diagnoseDenial(facts, model);
        if (!denial) {
          return {
            text: `nothing to explain: the key may use ${model} (balance ${balance}); a 403 from the router passes through unchanged`,
            json: { explained: false, reason: 'allowed', status: 403, balance },
          };
        }
        const fields = { code: denial.code, message: denial.message, requestId: null, extras: denial.extras };
        const { status, body, headers } = errorResponse(dialect ?? 'openai', fields, denial.headers);
        const { request_id: _none, ...error } = (body as { error: Record<string, unknown> }).error;
        const summary = `${status} ${denial.code}: ${denial.message} (balance ${balance})`;
        if (dialect === undefined) return { text: summary, json: { explained: true, status, error, balance } };
        // As the client receives it; the request id is the gateway's, so null here.
        const answer = { 'content-type': 'application/json', ...headers };
        return {
          text: `${summary}\n${Object.entries(answer)
            .map(([name, value]) => `${name}: ${value}`)
            .join('\n')}\n\n${JSON.stringify(body)}`,
          json: { explained: true, status, error, balance, dialect, headers: answer, body },
        };
      }),
    );
}
