import { type Database, type KeyExpiry, resolveKeyExpiry, setApiKeyExpiry } from '@control-layer/db';
import { type Command, Option } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireKeyId } from '../lookup.ts';

/** `--expires-in` and `--expires-at` as `keys create` reads them. */
export interface ExpiryOptions {
  expiresIn?: string;
  expiresAt?: string;
}

const UNITS = { d: 'days', h: 'hours', m: 'minutes' } as const;
const DURATION = /^([1-9][0-9]{0,5})([dhm])$/;
// RFC 3339 date-time: a full date, a time with seconds, optional fraction, and a Z or an offset.
const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 date-time as an instant; a malformed or impossible one (February 30th) is refused. */
export function parseRfc3339(value: string, flag: string): Date {
  const match = RFC_3339.exec(value);
  const bad = () =>
    new CliError(`bad ${flag} ${JSON.stringify(value)}: expected an RFC 3339 time such as 2027-01-31T18:00:00Z`);
  if (!match) throw bad();
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.parse rolls 2026-02-30 over into March; the calendar must hold the day as written.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) throw bad();
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw bad();
  return at;
}

/** `30d`, `12h`, `90m` as a Postgres interval. */
export function parseDuration(value: string): string {
  const match = DURATION.exec(value);
  if (!match) {
    throw new CliError(
      `bad --expires-in ${JSON.stringify(value)}: expected a whole number of days, hours or minutes such as 30d, 12h or 90m`,
    );
  }
  return `${match[1]} ${UNITS[match[2] as keyof typeof UNITS]}`;
}

/** An instant in RFC 3339, whole seconds, UTC: how expiries are shown. */
export function formatInstant(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The two options, for `keys create` to add. */
export function expiryOptions(): [expiresIn: Option, expiresAt: Option] {
  return [
    new Option('--expires-in <duration>', 'the key stops working after this long: 30d, 12h or 90m').conflicts(
      'expiresAt',
    ),
    new Option('--expires-at <time>', 'the key stops working at this RFC 3339 time, e.g. 2027-01-31T18:00:00Z'),
  ];
}

/**
 * The expiry `keys create` was asked for, on the database clock; null without one. Checked before
 * anything is written: a malformed value, or an instant that is not in the future (a key that
 * could never be used), is a `CliError`.
 */
export async function creationExpiry(db: Database, options: ExpiryOptions): Promise<Date | null> {
  let expiry: KeyExpiry;
  if (options.expiresIn !== undefined) expiry = { in: parseDuration(options.expiresIn) };
  else if (options.expiresAt !== undefined) expiry = { at: parseRfc3339(options.expiresAt, '--expires-at') };
  else return null;
  const { at, passed } = await resolveKeyExpiry(db, expiry);
  if (passed) {
    throw new CliError(`--expires-at ${options.expiresAt} is not in the future: the key could never be used`);
  }
  return at;
}

/** `keys expire`: end a key's life now or at a given time, on the `keys` group. */
export function registerKeyExpiry(keys: Command): void {
  keys
    .command('expire <key-id>')
    .description('make a key stop working now, or at --at (earlier or later); its holder is told it expired')
    .option('--at <time>', 'when, as an RFC 3339 time (default: now)')
    .action((keyId: string, options: { at?: string }, command: Command) =>
      execute(command, async ({ db }) => {
        const id = requireKeyId(keyId);
        const expiry: KeyExpiry = options.at === undefined ? 'now' : { at: parseRfc3339(options.at, '--at') };
        const changed = await setApiKeyExpiry(db, id, expiry);
        if (!changed) throw new CliError(`unknown or revoked key ${keyId}`);
        const at = formatInstant(changed.expiresAt);
        return {
          text: changed.expired ? `key ${id} expired at ${at}` : `key ${id} expires at ${at}`,
          json: { id, expiresAt: changed.expiresAt.toISOString(), expired: changed.expired },
        };
      }),
    );
}
