import { checkLedger, type LedgerDrift, rebuildCheckpoints } from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import type { Command } from 'commander';
import { execute } from '../execute.ts';
import { table } from '../table.ts';

function driftJson(drift: LedgerDrift[]) {
  return drift.map((d) => ({
    userId: d.userId,
    checkpointBalance: formatBalance(d.checkpointBalance),
    hasCheckpoint: d.hasCheckpoint,
    ledgerBalance: formatBalance(d.ledgerBalance),
    difference: formatBalance(d.difference),
  }));
}

function driftTable(drift: LedgerDrift[]): string {
  return table(
    ['user', 'checkpoint', 'ledger', 'difference'],
    drift.map((d) => [
      d.userId,
      d.hasCheckpoint ? formatBalance(d.checkpointBalance) : '(none)',
      formatBalance(d.ledgerBalance),
      formatBalance(d.difference),
    ]),
  );
}

/**
 * `ledger check` and `ledger rebuild`: the balance checkpoints against the ledger they fold. A
 * check that finds drift prints it and exits 1, so it can run from cron or a health job.
 */
export function registerLedger(program: Command): void {
  const ledger = program
    .command('ledger')
    .description('compare the balance checkpoints with the ledger, or rebuild them');

  ledger
    .command('check')
    .description('list the users whose balance differs from the signed sum of their ledger (exit 1 if any)')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const check = await checkLedger(db);
        const text = check.ok
          ? `ledger ok: ${check.usersChecked} balance${check.usersChecked === 1 ? '' : 's'} equal their ledger sums`
          : `${check.drift.length} of ${check.usersChecked} balances differ from the ledger:\n${driftTable(check.drift)}\n` +
            'run `control-layer ledger rebuild` to recompute them from the ledger';
        return {
          text,
          json: {
            ok: check.ok,
            usersChecked: check.usersChecked,
            ledgerSeq: check.ledgerSeq,
            drift: driftJson(check.drift),
          },
          ...(!check.ok && { exitCode: 1 }),
        };
      }),
    );

  ledger
    .command('rebuild')
    .description('recompute every balance checkpoint from the ledger, in one transaction (writers wait)')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const rebuild = await rebuildCheckpoints(db);
        const repaired =
          rebuild.repaired.length === 0
            ? 'nothing had drifted'
            : `repaired ${rebuild.repaired.length}:\n${driftTable(rebuild.repaired)}`;
        return {
          text: `rebuilt ${rebuild.checkpoints} checkpoint${rebuild.checkpoints === 1 ? '' : 's'} from the ledger; ${repaired}`,
          json: {
            id: rebuild.id,
            rebuiltAt: rebuild.rebuiltAt.toISOString(),
            rebuiltBy: rebuild.rebuiltBy,
            checkpoints: rebuild.checkpoints,
            checkpointsRewritten: rebuild.checkpointsRewritten,
            ledgerSeq: rebuild.ledgerSeq,
            repaired: driftJson(rebuild.repaired),
          },
        };
      }),
    );
}
