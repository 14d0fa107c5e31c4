/*
 * The packages as someone outside this repository gets them: packed tarballs installed with npm
 * into a fresh project in a temporary directory. A plain `node` script (no TypeScript, no loader)
 * mounts the middleware on a real Postgres migrated by the installed package, a TypeScript file
 * typechecks under strict nodenext settings, and the installed `control-layer` bin runs.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createEmptyTestDatabase, type EmptyTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);
const test = suite('packed packages in a fresh npm project');

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const FIXTURES = path.join(import.meta.dirname, 'consumer');
const project = mkdtempSync(path.join(tmpdir(), 'control-layer-consumer-'));
// Created empty by the test that migrates it through the installed package.
let database: EmptyTestDatabase | undefined;

test.after(async () => {
  rmSync(project, { recursive: true, force: true });
  await database?.close().catch(() => {});
});

/** `tar -tzf` of a tarball: the files it would install. */
async function tarballFiles(tarball: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', tarball]);
  return stdout.split('\n').filter(Boolean);
}

const tarballs: Record<string, string> = {};

test('pnpm pack builds each package (prepack) and ships compiled code only', async () => {
  for (const name of ['db', 'enrichment', 'cli']) {
    await run('pnpm', ['pack', '--pack-destination', project], { cwd: path.join(ROOT, 'packages', name) });
    const file = readdirSync(project).find((f) => f.startsWith(`control-layer-${name}-`) && f.endsWith('.tgz'));
    assert.ok(file, `a tarball for ${name}`);
    tarballs[name] = path.join(project, file);
    const files = await tarballFiles(tarballs[name]);
    assert.ok(files.includes('package/dist/index.js') || files.includes('package/dist/main.js'), files.join(' '));
    assert.not.ok(
      files.some((f) => /\/(src|test|soak)\/|\.test\.|tsbuildinfo|tsconfig/.test(f)),
      `no source, tests or build state in ${name}: ${files.join(' ')}`,
    );
  }
  assert.ok((await tarballFiles(String(tarballs.db))).some((f) => f.startsWith('package/migrations/')));
  const { stdout } = await run('tar', ['-xzOf', String(tarballs.enrichment), 'package/package.json']);
  const manifest = JSON.parse(stdout) as Record<string, unknown>;
  assert.not.ok(stdout.includes('workspace:'), 'workspace: ranges are replaced by versions');
  assert.not.ok(stdout.includes('./src/'), 'exports point at compiled files only');
  assert.equal(manifest.exports, { '.': { types: './dist/index.d.ts', import: './dist/index.js' } });
  assert.is((manifest.peerDependencies as Record<string, string>).koa, '^3.0.0');
  assert.not.ok('private' in manifest);
});

test('npm installs the tarballs into a fresh project', async () => {
  writeFileSync(path.join(project, 'package.json'), '{ "name": "consumer", "private": true, "type": "module" }\n');
  for (const file of ['app.mjs', 'app.ts', 'tsconfig.json'])
    copyFileSync(path.join(FIXTURES, file), path.join(project, file));
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      String(tarballs.db),
      String(tarballs.enrichment),
      String(tarballs.cli),
      'koa@3.2.1',
      '@types/koa@3.0.3',
      '@types/node@20',
    ],
    { cwd: project, timeout: 240_000 },
  );
});

test('a plain node script gets the 402 insufficient_credits envelope from a database the package migrated', async () => {
  database = await createEmptyTestDatabase({ prefix: 'cl_consumer' });
  const url = new URL(database.url);
  const { stdout } = await run(process.execPath, ['app.mjs', url.toString()], { cwd: project, timeout: 60_000 });
  const results = JSON.parse(stdout) as Record<
    string,
    { status: number; retry: string | null; body: { error: Record<string, unknown> } }
  >;
  assert.is(results.broke?.status, 402);
  assert.is(results.broke?.retry, 'false');
  assert.equal(
    { ...results.broke?.body.error, request_id: null },
    {
      message: 'Account balance too low. Please add credits to continue.',
      type: 'insufficient_quota',
      code: 'insufficient_credits',
      param: null,
      balance: '-50.00',
      request_id: null,
    },
  );
  assert.is(results.outsider?.body.error.code, 'model_access_denied');
  // An unknown key learns nothing: the route's own 403 passes through.
  assert.is(results.unknown?.status, 403);
  assert.is(results.unknown?.body.error.code, 'forbidden');

  // The installed bin reads the same database.
  const bin = path.join(project, 'node_modules', '.bin', 'control-layer');
  const listed = await run(bin, ['users', 'list', '--json', '--database-url', url.toString()], { cwd: project });
  assert.ok((JSON.parse(listed.stdout) as unknown[]).length >= 4);
});

test('tsc (strict, module and moduleResolution nodenext) typechecks a consumer file with no error', async () => {
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const clean = await run(tsc, ['-p', 'tsconfig.json', '--pretty', 'false'], { cwd: project }).catch(
    (error: { stdout?: string }) => {
      assert.unreachable(`tsc reported:\n${error.stdout}`);
    },
  );
  assert.is(clean?.stdout, '');
  // With declaration files checked too, nothing in ours or in the consumer's file may be wrong
  // (drizzle-orm's own declarations need drivers we do not install, so their errors are set aside).
  const strict = await run(tsc, ['-p', 'tsconfig.json', '--pretty', 'false', '--skipLibCheck', 'false'], {
    cwd: project,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  // Every line that is not a continuation and not about drizzle-orm's files is ours (a bad flag too).
  const ours = strict.stdout
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s/.test(line) && !line.startsWith('node_modules/drizzle-orm/'));
  assert.equal(ours, []);
});

test.run();
