/**
 * Runs the uvu suites of every package (or of the packages named as arguments) in one process
 * against one real Postgres, then prints the `N passed, N failed, N skipped` total as the last line.
 * uvu prints no failed count and exits 0 when a before() hook throws; this closes both gaps.
 * With `--soak`, runs the long suites (`<package>/soak/*.soak.ts`) instead of the tests.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startTestPostgres } from '../packages/db/src/testing/index.ts';

const require = createRequire(import.meta.url);
// bin.js is not in uvu's "exports".
const uvuBin = path.join(path.dirname(require.resolve('uvu')), '..', 'bin.js');
const root = path.resolve(import.meta.dirname, '..');

const args = process.argv.slice(2);
const soak = args.includes('--soak');
const packages = args.filter((a) => a !== '--soak').map((p) => path.relative(root, path.resolve(p)));
const scope = packages.length > 0 ? `(${packages.map((p) => p.replaceAll('.', '\\.')).join('|')})` : 'packages/[^/]+';
const pattern = soak ? `^${scope}/soak/.*\\.soak\\.ts$` : `^${scope}/test/.*\\.test\\.ts$`;

const started = performance.now();
const server = await startTestPostgres();
console.log(`postgres: ${server.via}, ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const child = spawn(process.execPath, ['--import', 'tsx', uvuBin, '.', pattern, '--color', 'false'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0', TEST_DATABASE_URL: server.url },
});
let out = '';
// Once uvu has printed its summary every suite has run and reported. A handle some test left open
// (a socket, a ref'd timer) would keep the process alive without end and hang CI on a result that
// is already in: past this grace the process is ended, and the summary stands.
const EXIT_GRACE_MS = 30_000;
let endedAfterSummary = false;
let grace: NodeJS.Timeout | undefined;
child.stdout.on('data', (chunk: Buffer) => {
  out += chunk;
  process.stdout.write(chunk);
  if (grace === undefined && /^\s*Duration:/m.test(out)) {
    grace = setTimeout(() => {
      endedAfterSummary = true;
      console.error(`the test process had not exited ${EXIT_GRACE_MS / 1000} s after its summary: ended it`);
      child.kill('SIGKILL');
    }, EXIT_GRACE_MS);
  }
});
const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
  child.on('close', (c, s) => resolve([c, s])),
);
clearTimeout(grace);
await server.stop();

const count = (label: string) => {
  const match = out.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'));
  return match ? Number(match[1]) : null;
};
const total = count('Total');
const passed = count('Passed');
const skipped = count('Skipped') ?? 0;
if (total === null || passed === null) {
  console.log('uvu printed no summary (crashed or exited early)');
  console.log(`0 passed, 1 failed, ${skipped} skipped`);
  process.exit(code || 1);
}
const failed = total - passed;
const exitedCleanly = endedAfterSummary || (code === 0 && signal === null);
const ok = exitedCleanly && failed === 0 && total > 0;
if (total === 0) console.log('no test ran');
console.log(`${passed} passed, ${ok ? failed : Math.max(failed, 1)} failed, ${skipped} skipped`);
process.exit(ok ? 0 : 1);
