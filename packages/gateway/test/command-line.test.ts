/*
 * The gateway's command line: `--help` through the package's bin and through `pnpm start -- --help`,
 * printed from the settings table, so it names every variable the configuration reads.
 */
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, SETTINGS } from '../src/index.ts';
import { bareEnv, PACKAGE_DIR } from './process.ts';

const run = promisify(execFile);
const test = suite('command line');
const ROOT = path.resolve(PACKAGE_DIR, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

/** Every variable `loadConfig` looks at, whether set or not, with and without the optional parts. */
function variablesRead(): Set<string> {
  const seen = new Set<string>();
  const recording = (env: Record<string, string>) =>
    new Proxy(env, {
      get(target, name) {
        if (typeof name === 'string') seen.add(name);
        return target[name as string];
      },
    });
  loadConfig(recording({}), '/srv/app', false);
  loadConfig(
    recording({ DATABASE_URL: 'postgres://db/app', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
    '/srv/app',
    false,
  );
  return seen;
}

function assertListsEverySetting(help: string): void {
  const read = variablesRead();
  assert.ok(read.size >= Object.keys(SETTINGS).length - 1, `only ${[...read].join(', ')} read`);
  for (const name of read) assert.match(help, new RegExp(`^  ${name}$`, 'm'), `${name} missing from --help`);
  for (const [name, setting] of Object.entries(SETTINGS)) {
    assert.ok(help.includes(`default: ${setting.fallback};`), `${name}: default ${setting.fallback} missing`);
  }
  assert.match(help, /PORT\n.*\n\s+default: 3000; accepts: integer, 0 to 65535/);
  assert.match(help, /LOG_FORMAT\n.*\n\s+default: pretty on a terminal, else json; accepts: pretty \| json/);
}

test('control-layer-gateway --help, run as the bin an install links, lists every setting and exits 0', async () => {
  await run('pnpm', ['--dir', ROOT, 'build'], { env: bareEnv({}) });
  const bin = path.join(PACKAGE_DIR, manifest.bin['control-layer-gateway'] ?? '');
  // What npm and pnpm do to a bin when they link it.
  chmodSync(bin, 0o755);
  const { stdout } = await run(bin, ['--help'], { env: bareEnv({}) });
  assert.match(stdout, /^Usage: control-layer-gateway/);
  assertListsEverySetting(stdout);
});

test('pnpm start -- --help prints the same help and exits 0 instead of starting the gateway', async () => {
  const { stdout } = await run('pnpm', ['--dir', ROOT, 'start', '--', '--help'], { env: bareEnv({}) });
  assert.match(stdout, /^Usage: control-layer-gateway/);
  assertListsEverySetting(stdout);
});

test('--version prints the package version', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--version'], {
    cwd: PACKAGE_DIR,
    env: bareEnv({}),
  });
  assert.is(stdout, `${manifest.version}\n`);
});

test('refuses an argument it does not know, pointing at --help, with exit code 2', async () => {
  const failure = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--port', '8080'], {
    cwd: PACKAGE_DIR,
    env: bareEnv({}),
  }).catch((error: { code: number; stderr: string }) => error);
  assert.is((failure as { code: number }).code, 2);
  assert.match(
    (failure as { stderr: string }).stderr,
    /unknown argument "--port"; settings are environment variables \(see --help\)/,
  );
});

test.run();
