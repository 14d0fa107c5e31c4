import { randomUUID } from 'node:crypto';
import {
  createTransaction,
  getUserBalance,
  listTransactions,
  signedAmount,
  type TransactionType,
} from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import type { Command } from 'commander';
import { parseAmount } from '../amount.ts';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireUser } from '../lookup.ts';
import { table } from '../table.ts';

interface LedgerOptions {
  sourceId?: string;
  description?: string;
}

/** `credits grant` and `credits charge`: one ledger row, idempotent on `--source-id`. */
function ledgerCommand(credits: Command, name: string, type: TransactionType, summary: string): void {
  credits
    .command(`${name} <username> <amount>`)
    .description(summary)
    .option('--source-id <id>', 'idempotency key: running again with the same id records nothing new')
    .option('--description <text>', 'note kept on the ledger row')
    .action((username: string, amountText: string, options: LedgerOptions, command: Command) =>
      execute(command, async ({ db }) => {
        const amount = parseAmount(amountText);
        const user = await requireUser(db, username);
        const { transaction, created } = await createTransaction(db, {
          userId: user.id,
          type,
          amount,
          sourceId: options.sourceId ?? `cli:${randomUUID()}`,
          description: options.description ?? `control-layer credits ${name}`,
        });
        const balance = formatBalance(await getUserBalance(db, user.id));
        const shown = formatBalance(transaction.amount);
        const verb = name === 'grant' ? 'granted' : 'charged';
        return {
          text: created
            ? `${verb} ${shown} ${name === 'grant' ? 'to' : 'to the account of'} ${username}; balance ${balance}`
            : `already recorded under source id ${transaction.sourceId}; nothing changed; balance ${balance}`,
          json: {
            id: transaction.id,
            user: username,
            type: transaction.transactionType,
            amount: shown,
            sourceId: transaction.sourceId,
            created,
            balance,
          },
        };
      }),
    );
}

export function registerCredits(program: Command): void {
  const credits = program.command('credits').description("a user's credit ledger (append-only)");
  ledgerCommand(credits, 'grant', 'admin_grant', 'add credits to a user');
  ledgerCommand(credits, 'charge', 'admin_removal', 'take credits from a user (the balance may go below zero)');

  credits
    .command('history <username>')
    .description("a user's ledger rows, newest first")
    .option('--limit <n>', 'rows to show', '50')
    .action((username: string, options: { limit: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const limit = Number(options.limit);
        if (!/^\d+$/.test(options.limit) || limit < 1 || limit > 10_000) {
          throw new CliError(`bad limit ${JSON.stringify(options.limit)}: expected a whole number from 1 to 10000`);
        }
        const user = await requireUser(db, username, { allowDeleted: true });
        const rows = (await listTransactions(db, user.id, limit)).map((t) => ({
          seq: t.seq,
          type: t.transactionType,
          amount: formatBalance(t.amount),
          change: formatBalance(signedAmount(t.transactionType, t.amount)),
          sourceId: t.sourceId,
          description: t.description,
          createdAt: t.createdAt.toISOString(),
        }));
        const balance = formatBalance(await getUserBalance(db, user.id));
        const text =
          rows.length === 0
            ? `${username} has no ledger rows; balance ${balance}`
            : `${table(
                ['SEQ', 'CHANGE', 'TYPE', 'SOURCE ID', 'WHEN'],
                rows.map((r) => [String(r.seq), r.change, r.type, r.sourceId, r.createdAt]),
              )}\nbalance ${balance}`;
        return { text, json: { user: username, balance, transactions: rows } };
      }),
    );

  program
    .command('balance <username>')
    .description("a user's balance")
    .action((username: string, _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const user = await requireUser(db, username, { allowDeleted: true });
        const balance = formatBalance(await getUserBalance(db, user.id));
        return { text: `${username}: ${balance}`, json: { user: username, balance } };
      }),
    );
}
