import type { Decimal } from '@control-layer/db';
import { checkLedger, type LedgerDrift, rebuildCheckpoints, type SpendDrift } from '@control-layer/db';
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

const orNull = (value: Decimal | null) => (value === null ? null : value.toFixed());

function spendDriftJson(drift: SpendDrift[]) {
  return drift.map((d) => ({
    apiKeyId: d.apiKeyId,
    hasCheckpoint: d.hasCheckpoint,
    capped: d.capped,
    windowStartedAt: d.windowStartedAt?.toISOString() ?? null,
    checkpointTotal: d.checkpointTotal.toFixed(),
    ledgerTotal: d.ledgerTotal.toFixed(),
    totalDifference: d.totalDifference.toFixed(),
    checkpointWindow: orNull(d.checkpointWindow),
    ledgerWindow: orNull(d.ledgerWindow),
    windowDifference: orNull(d.windowDifference),
  }));
}

function spendDriftTable(drift: SpendDrift[]): string {
  return table(
    [
      'key (scope root)',
      'total',
      'ledger total',
      'difference',
      'window',
      'ledger window',
      'difference',
      'window start',
    ],
    drift.map((d) => [
      d.apiKeyId,
      d.hasCheckpoint ? d.checkpointTotal.toFixed() : '(none)',
      d.ledgerTotal.toFixed(),
      d.totalDifference.toFixed(),
      orNull(d.checkpointWindow) ?? '-',
      orNull(d.ledgerWindow) ?? '-',
      orNull(d.windowDifference) ?? '-',
      d.windowStartedAt?.toISOString() ?? '-',
    ]),
  );
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * `ledger check` and `ledger rebuild`: the balance and spend checkpoints against the ledger they
 * fold. A check that finds drift prints it and exits 1, so it can run from cron or a health job.
 * Amounts are printed exactly, every digit (a difference of 0.000000000000001 is drift).
 */
export function registerLedger(program: Command): void {
  const ledger = program
    .command('ledger')
    .description('compare the balance and spend checkpoints with the ledger, or rebuild them');

  ledger
    .command('check')
    .description(
      'list the users whose balance, and the cap scopes whose spend, differ from their ledger sums (exit 1 if any)',
    )
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const check = await checkLedger(db);
        const parts: string[] = [];
        if (check.drift.length > 0) {
          parts.push(
            `${check.drift.length} of ${plural(check.usersChecked, 'balance')} differ from the ledger:\n${driftTable(check.drift)}`,
          );
        }
        if (check.spendDrift.length > 0) {
          parts.push(
            `${check.spendDrift.length} of ${plural(check.scopesChecked, 'spend checkpoint')} differ from the ledger:\n${spendDriftTable(check.spendDrift)}`,
          );
        }
        const text = check.ok
          ? `ledger ok: ${plural(check.usersChecked, 'balance')} and ${plural(check.scopesChecked, 'spend checkpoint')} equal their ledger sums`
          : `${parts.join('\n')}\nrun \`control-layer ledger rebuild\` to recompute them from the ledger`;
        return {
          text,
          json: {
            ok: check.ok,
            usersChecked: check.usersChecked,
            scopesChecked: check.scopesChecked,
            ledgerSeq: check.ledgerSeq,
            drift: driftJson(check.drift),
            spendDrift: spendDriftJson(check.spendDrift),
          },
          ...(!check.ok && { exitCode: 1 }),
        };
      }),
    );

  ledger
    .command('rebuild')
    .description('recompute every balance and spend checkpoint from the ledger, in one transaction (writers wait)')
    .action((_options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const rebuild = await rebuildCheckpoints(db);
        const repaired: string[] = [];
        if (rebuild.repaired.length > 0) {
          repaired.push(`repaired ${plural(rebuild.repaired.length, 'balance')}:\n${driftTable(rebuild.repaired)}`);
        }
        if (rebuild.spendRepaired.length > 0) {
          repaired.push(
            `repaired ${plural(rebuild.spendRepaired.length, 'spend checkpoint')}:\n${spendDriftTable(rebuild.spendRepaired)}`,
          );
        }
        return {
          text:
            `rebuilt ${plural(rebuild.checkpoints, 'checkpoint')} and ${plural(rebuild.spendCheckpoints, 'spend checkpoint')} ` +
            `from the ledger; ${repaired.length === 0 ? 'nothing had drifted' : repaired.join('\n')}`,
          json: {
            id: rebuild.id,
            rebuiltAt: rebuild.rebuiltAt.toISOString(),
            rebuiltBy: rebuild.rebuiltBy,
            checkpoints: rebuild.checkpoints,
            checkpointsRewritten: rebuild.checkpointsRewritten,
            spendCheckpoints: rebuild.spendCheckpoints,
            spendCheckpointsRewritten: rebuild.spendCheckpointsRewritten,
            ledgerSeq: rebuild.ledgerSeq,
            repaired: driftJson(rebuild.repaired),
            spendRepaired: spendDriftJson(rebuild.spendRepaired),
          },
        };
      }),
    );
}
