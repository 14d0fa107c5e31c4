import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogFormat, LogLevel } from './config.ts';

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
// ANSI colours per level, used only on a terminal and without NO_COLOR (no-color.org).
const LEVEL_COLOURS: Readonly<Record<number, string>> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/**
 * One pino JSON line as a line for people: `12:00:01.234 INFO  message key=value …`, with every
 * field of the JSON line but `time`, `level` and `msg`, which make the prefix.
 */
export function prettyLine(json: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, ...fields } = entry;
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const levelNumber = typeof level === 'number' ? level : 30;
  const name = LEVEL_NAMES[levelNumber] ?? String(level);
  const label = colour ? `\x1b[${LEVEL_COLOURS[levelNumber] ?? '0'}m${name}\x1b[0m` : name;
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${formatValue(value)}`);
  return `${[clock, label, typeof msg === 'string' ? msg : '', ...rest].join(' ')}\n`;
}

/** A destination that writes each pino line to stdout in the pretty form, in this process. */
function prettyDestination(): DestinationStream {
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return { write: (line: string) => void process.stdout.write(prettyLine(line, colour)) };
}

/**
 * The gateway's logger. `json` is pino's own fast path to stdout, unchanged; `pretty` formats the
 * same lines in-process, for a terminal.
 *
 * @example
 * const logger = createLogger({ level: 'info', format: 'pretty' });
 */
export function createLogger(options: { level: LogLevel; format: LogFormat }): Logger {
  // `err` fields arrive already described (`describeError`: code and message, nothing secret);
  // pino's default error serializer would only add an empty stack and `"type":"Object"` to them.
  const settings = { level: options.level, serializers: { err: (value: unknown) => value } };
  return options.format === 'pretty' ? pino(settings, prettyDestination()) : pino(settings);
}
