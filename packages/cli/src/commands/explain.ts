import { explainDenial } from '@control-layer/db';
import { diagnoseDenial, ERROR_SPECS, errorEnvelope, formatBalance } from '@control-layer/enrichment';
import type { Command } from 'commander';
import { execute } from '../execute.ts';
import { readSecret } from '../read-secret.ts';

export function registerExplain(program: Command): void {
  program
    .command('explain <model>')
    .description(
      'what the middleware would answer if the router refused this key for this model with a 403; the key comes from stdin or --key-file',
    )
    .option('--key-file <path>', 'read the key from this file instead of stdin')
    .action((model: string, options: { keyFile?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const secret = await readSecret(options.keyFile);
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
        const { status } = ERROR_SPECS[denial.code];
        const { request_id: _none, ...error } = errorEnvelope(denial.code, denial.message, null, denial.extras).error;
        return {
          text: `${status} ${denial.code}: ${denial.message} (balance ${balance})`,
          json: { explained: true, status, error, balance },
        };
      }),
    );
}
