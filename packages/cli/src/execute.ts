import { type Database, type DatabaseTarget, openDatabase } from '@control-layer/db';
import type { Command } from 'commander';
import { describeError } from './cli-error.ts';
import { connectionOptions, resolveDatabaseTarget } from './database-url.ts';

/** What a command prints: readable text, or with `--json` exactly one JSON document. */
export interface Result {
  text: string;
  json: unknown;
  /** Exit code for a result that is printed but means failure (`ledger check` finding drift). */
  exitCode?: number;
}

/** Options every command takes, declared on the program. */
export interface GlobalOptions {
  json?: boolean;
  databaseUrl?: string;
}

export interface CommandContext {
  db: Database;
  /** The database in use. */
  target: DatabaseTarget;
}

export interface ExecuteOptions {
  /**
   * Create the embedded database when it does not exist: `migrate` only. Every other command is
   * refused with "no database at …; run migrate" and creates nothing.
   * @default false
   */
  create?: boolean;
}

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Run one command's work against the database and print its result. Whatever fails ends up as one
 * line on stderr and exit code 1, with nothing on stdout. SIGINT or SIGTERM closes the database
 * (an interrupted migration rolls back) and exits.
 */
export async function execute(
  command: Command,
  work: (context: CommandContext) => Promise<Result>,
  { create = false }: ExecuteOptions = {},
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  let close: (() => Promise<void>) | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`control-layer: ${signal}, stopping\n`);
    const closing = close ? close().catch(() => {}) : Promise.resolve();
    void closing.then(() => process.exit(SIGNAL_EXIT_CODES[signal] ?? 1));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const target = resolveDatabaseTarget(options.databaseUrl);
    const opened = await openDatabase(target, { ...connectionOptions(), create });
    close = opened.close;
    const result = await work({ db: opened.db, target });
    process.stdout.write(options.json ? `${JSON.stringify(result.json, null, 2)}\n` : `${result.text}\n`);
    if (result.exitCode !== undefined) process.exitCode = result.exitCode;
  } catch (error) {
    process.stderr.write(`control-layer: ${describeError(error)}\n`);
    process.exitCode = 1;
  } finally {
    await close?.().catch(() => {});
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
