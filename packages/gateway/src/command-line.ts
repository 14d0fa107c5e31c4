import { createRequire } from 'node:module';
import { SETTINGS, type Setting } from './config.ts';

/** What the command line asked for: print something and exit, or run the gateway. */
export type Command = { run: 'gateway' } | { run: 'help' } | { run: 'version' } | { run: 'usage-error'; arg: string };

/**
 * Read the gateway's arguments. There are no flags besides `--help` and `--version`: every
 * setting is an environment variable. A lone `--` (what `pnpm start -- --help` may pass on) is skipped.
 */
export function parseArguments(args: readonly string[]): Command {
  for (const arg of args) {
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') return { run: 'help' };
    if (arg === '--version' || arg === '-v') return { run: 'version' };
    return { run: 'usage-error', arg };
  }
  return { run: 'gateway' };
}

function defaultOf(setting: Setting): string {
  return String(setting.fallback);
}

function boundsOf(setting: Setting): string {
  if (setting.kind === 'integer') return `integer, ${setting.min} to ${setting.max}`;
  if (setting.kind === 'choice') return setting.values.join(' | ');
  return setting.bounds;
}

/** `--help`, printed from the table `loadConfig` reads, so it lists every setting there is. */
export function helpText(): string {
  const lines = [
    'Usage: control-layer-gateway [--help | --version]',
    '',
    'Runs the gateway: /ai/v1/* through error enrichment to the upstream router, with /healthz,',
    '/readyz and /metrics beside it. It is configured by environment variables only:',
    '',
  ];
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    lines.push(`  ${name}`);
    lines.push(`      ${setting.meaning}`);
    lines.push(`      default: ${defaultOf(setting)}; accepts: ${boundsOf(setting)}`);
  }
  lines.push('', 'SIGTERM or SIGINT drains in-flight requests, then stops.', '');
  return lines.join('\n');
}

/** This package's version, from its package.json (beside `src/` and `dist/` alike). */
export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('../package.json') as { version: string }).version;
}
