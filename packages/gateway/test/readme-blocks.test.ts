/*
 * README.md runs as written. Every fenced block is extracted and run, in order, the way a reader
 * would run it: from a fresh checkout and a fresh npm project in a temporary directory, against
 * tarballs packed from this repository (the README's own pack and install blocks make them).
 *
 * Conventions (an HTML comment on the lines just before a block, blank lines allowed between):
 *
 * - ```bash / ```sh: run by bash (-e, pipefail) in a fresh checkout of this repository
 *   (`<tmp>/control-layer-ts`: every top-level entry linked, no `.data`), with DATABASE_URL unset
 *   as in a reader's shell.
 *   `<!-- doc-test: app -->` runs it in the npm project beside it instead (`<tmp>/my-app`).
 *   `localhost:3000` (or `127.0.0.1:3000`) means the gateway: a block that runs `pnpm start` itself
 *   gets a free port as PORT, and its `localhost:3000` points there; any other block's (js and ts
 *   blocks' too) points at one `pnpm start`
 *   (embedded database, demo keys) the test starts once. The placeholder
 *   `postgres://app:secret@127.0.0.1:5432/control_layer` becomes an empty test database.
 *   Background jobs (`pnpm start &`) are stopped when the block ends.
 * - ```js / ```ts: written to a file in the npm project (`<!-- doc-test: file NAME -->` names it,
 *   else `snippet-<line>.mjs|ts`) and run with node; a ts file is first compiled by tsc with the
 *   project's tsconfig.json (a README block) and must also have no error of ours with
 *   skipLibCheck off. PORT is a free port, UPSTREAM_URL the test's gateway, DATABASE_URL unset; a
 *   file that reads DATABASE_URL runs a second time with it set to an empty Postgres database.
 *   A run passes when the process exits 0, or when it listens on PORT and then proxies a chat
 *   completion (a demo key, through to the test's gateway) with a 200; it then gets SIGTERM.
 * - ```json (or any other language): only with `<!-- doc-test: file NAME -->` (written, not run).
 * - `<!-- doc-test: skip (reason) -->`: not run; the reason is required and is for readers.
 *
 * Any other block fails the test: a new block is run, or says why it is not.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEmptyTestDatabase, type EmptyTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEMO_KEYS, DEMO_MODEL } from '../src/demo-data.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');
const PLACEHOLDER_DATABASE_URL = 'postgres://app:secret@127.0.0.1:5432/control_layer';
const BLOCK_TIMEOUT_MS = 300_000;
const SCRIPT_START_TIMEOUT_MS = 180_000;

type Directive = { kind: 'run' } | { kind: 'app' } | { kind: 'file'; name: string } | { kind: 'skip'; reason: string };

interface Block {
  line: number;
  lang: string;
  code: string;
  directive: Directive;
}

/** Fenced blocks of a Markdown text, each with the doc-test comment just before it. */
function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let pending: Directive | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const comment = /^<!--\s*doc-test:\s*(.*?)\s*-->\s*$/.exec(line);
    if (comment) {
      pending = parseDirective(comment[1] ?? '', i + 1);
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence) {
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
      blocks.push({
        line: start + 1,
        lang: fence[1] ?? '',
        code: `${body.join('\n')}\n`,
        directive: pending ?? { kind: 'run' },
      });
      pending = undefined;
      continue;
    }
    // A directive belongs to the very next block: any text in between cancels it.
    if (line.trim() !== '') pending = undefined;
  }
  return blocks;
}

function parseDirective(text: string, line: number): Directive {
  if (text === 'app') return { kind: 'app' };
  const file = /^file\s+(\S+)$/.exec(text);
  if (file?.[1] && !file[1].includes('/')) return { kind: 'file', name: file[1] };
  const skip = /^skip\s+\((.+)\)$/.exec(text);
  if (skip?.[1]) return { kind: 'skip', reason: skip[1] };
  throw new Error(`README.md:${line}: unknown doc-test comment "${text}" (app, file NAME, or skip (reason))`);
}

type Kind = 'shell' | 'js' | 'ts' | 'file' | 'skip';

/** What the test does with a block, or why it cannot. */
function classify(block: Block): Kind | { error: string } {
  if (block.directive.kind === 'skip') return 'skip';
  const lang = block.lang.toLowerCase();
  if (['bash', 'sh', 'shell'].includes(lang)) {
    return block.directive.kind === 'file' ? { error: 'a shell block is run, not written to a file' } : 'shell';
  }
  if (block.directive.kind === 'app') return { error: '`doc-test: app` is for shell blocks' };
  if (['js', 'mjs', 'javascript'].includes(lang)) return 'js';
  if (['ts', 'typescript'].includes(lang)) return 'ts';
  if (block.directive.kind === 'file') return 'file';
  return {
    error: `a \`${block.lang || '(no language)'}\` block is not run: mark it <!-- doc-test: file NAME --> or <!-- doc-test: skip (reason) -->`,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A process in its own process group, so that whatever it started in the background can be stopped with it. */
function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  // 'exit', not 'close': a background job keeps the pipes open after the shell has exited.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

function stopGroup(running: Running, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    if (running.child.pid) process.kill(-running.child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

async function stopAndWait(running: Running, graceMs = 15_000): Promise<void> {
  stopGroup(running);
  const done = await Promise.race([running.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) stopGroup(running, 'SIGKILL');
  await running.exited;
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, ms: number, running?: Running) {
  const deadline = Date.now() + ms;
  let exited = false;
  void running?.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    if (exited) throw new Error(`${what}: the process exited\n${running?.output()}`);
    await sleep(200);
  }
  throw new Error(`${what}: not within ${ms} ms\n${running?.output() ?? ''}`);
}

// --- the world the blocks run in ---

const tmp = mkdtempSync(path.join(tmpdir(), 'control-layer-readme-'));
const checkout = path.join(tmp, 'control-layer-ts');
const app = path.join(tmp, 'my-app');
mkdirSync(checkout);
mkdirSync(app);
for (const entry of readdirSync(ROOT)) {
  // A fresh clone has no embedded database, no packed tarballs and no git metadata to share.
  if (['.data', 'packed', '.git'].includes(entry)) continue;
  symlinkSync(path.join(ROOT, entry), path.join(checkout, entry));
}

/** The environment of a reader's shell: no database chosen, npm answering from its cache where it can. */
function readerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    FORCE_COLOR: '0',
    ...extra,
  };
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'UPSTREAM_URL', 'PORT', 'HOST', 'WORKERS', 'TEST_DATABASE_URL'])
    if (!(name in extra)) delete env[name];
  return env;
}

let gateway: { port: number; running: Running } | undefined;

/** One `pnpm start` on the embedded database with its demo keys, started when a block first needs it. */
async function demoGateway(): Promise<number> {
  if (gateway) return gateway.port;
  const port = await freePort();
  const running = start('pnpm', ['start'], checkout, readerEnv({ PORT: String(port) }));
  gateway = { port, running };
  await waitUntil(
    'pnpm start ready',
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return response?.status === 200 ? true : undefined;
    },
    120_000,
    running,
  );
  return port;
}

const databases: EmptyTestDatabase[] = [];
async function emptyDatabase(): Promise<string> {
  const database = await createEmptyTestDatabase({ prefix: 'cl_readme' });
  databases.push(database);
  return database.url;
}

const GATEWAY_ADDRESS = /\b(localhost|127\.0\.0\.1):3000\b/;

/** The README's gateway address, moved to where the test's gateway listens. */
function atPort(code: string, port: number): string {
  return code.replaceAll(new RegExp(GATEWAY_ADDRESS, 'g'), (_m, host: string) => `${host}:${port}`);
}

async function runShell(block: Block): Promise<void> {
  const ownsGateway = /\bpnpm start\b/.test(block.code);
  const port = ownsGateway ? await freePort() : GATEWAY_ADDRESS.test(block.code) ? await demoGateway() : undefined;
  let code = port === undefined ? block.code : atPort(block.code, port);
  if (code.includes(PLACEHOLDER_DATABASE_URL)) code = code.replaceAll(PLACEHOLDER_DATABASE_URL, await emptyDatabase());
  const cwd = block.directive.kind === 'app' ? app : checkout;
  const env = readerEnv(port === undefined ? {} : { PORT: String(port) });
  const running = start('bash', ['-e', '-o', 'pipefail', '-c', code], cwd, env);
  const result = await Promise.race([running.exited, sleep(BLOCK_TIMEOUT_MS).then(() => undefined)]);
  await stopAndWait(running);
  if (!result) assert.unreachable(`timed out after ${BLOCK_TIMEOUT_MS} ms:\n${running.output()}`);
  assert.is(result?.code, 0, `exit ${result?.code} ${result?.signal ?? ''}:\n${running.output()}`);
}

function tsconfigOutDir(): string {
  const file = path.join(app, 'tsconfig.json');
  let config: { compilerOptions?: { outDir?: string } };
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as typeof config;
  } catch (error) {
    throw new Error(`a TypeScript block needs the project's tsconfig.json from an earlier block: ${error}`);
  }
  return config.compilerOptions?.outDir ?? '.';
}

async function tsc(args: string[]): Promise<{ code: number | null; output: string }> {
  const running = start(TSC, ['-p', 'tsconfig.json', '--pretty', 'false', ...args], app, readerEnv({}));
  const { code } = await running.exited;
  return { code, output: running.output() };
}

/** Run a script the way its reader would, and check it either finishes or serves. */
async function runScript(file: string, databaseUrl: string | undefined): Promise<void> {
  const upstream = await demoGateway();
  const port = await freePort();
  const env = readerEnv({
    PORT: String(port),
    UPSTREAM_URL: `http://127.0.0.1:${upstream}/ai`,
    ...(databaseUrl !== undefined && { DATABASE_URL: databaseUrl }),
  });
  const running = start(process.execPath, [file], app, env);
  const label = `${path.basename(file)} (DATABASE_URL ${databaseUrl === undefined ? 'unset' : 'set'})`;
  try {
    // The first start on an empty embedded database initialises it (seconds, more on a busy machine).
    const outcome = await waitUntil(
      label,
      async () => {
        if (await listening(port)) return 'serving' as const;
        const exited = await Promise.race([running.exited, sleep(0).then(() => undefined)]);
        return exited ? ('exited' as const) : undefined;
      },
      SCRIPT_START_TIMEOUT_MS,
    );
    if (outcome === 'exited') {
      const { code, signal } = await running.exited;
      assert.is(code, 0, `${label} exited ${code} ${signal ?? ''}:\n${running.output()}`);
      return;
    }
    const response = await fetch(`http://127.0.0.1:${port}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_KEYS.working}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const body = await response.text();
    assert.is(
      response.status,
      200,
      `${label} proxied a chat completion: ${response.status} ${body}\n${running.output()}`,
    );
    assert.ok(body.includes('chat.completion'), body);
  } finally {
    // Whatever happened, the embedded database's lock goes with the process.
    await stopAndWait(running);
  }
}

async function runCode(block: Block, kind: 'js' | 'ts'): Promise<void> {
  const name =
    block.directive.kind === 'file' ? block.directive.name : `snippet-${block.line}.${kind === 'ts' ? 'ts' : 'mjs'}`;
  const code = GATEWAY_ADDRESS.test(block.code) ? atPort(block.code, await demoGateway()) : block.code;
  writeFileSync(path.join(app, name), code);
  let script = path.join(app, name);
  if (kind === 'ts') {
    const outDir = tsconfigOutDir();
    // Compiled with library checks on: every error then is drizzle-orm's own (see the README), none ours.
    const built = await tsc(['--skipLibCheck', 'false']);
    const ours = built.output
      .split('\n')
      .filter((line) => line.trim() !== '' && !/^\s/.test(line) && !line.startsWith('node_modules/drizzle-orm/'));
    assert.equal(ours, [], 'no error outside drizzle-orm with skipLibCheck off');
    script = path.join(app, outDir, name.replace(/\.ts$/, '.js'));
  }
  await runScript(script, undefined);
  if (block.code.includes('DATABASE_URL')) await runScript(script, await emptyDatabase());
}

// --- the suite ---

const test = suite('README.md runs as written');
const blocks = readmeBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

test.after(async () => {
  if (gateway) await stopAndWait(gateway.running);
  for (const database of databases) await database.close().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

test('every block is run, or says why not', () => {
  const problems = blocks.flatMap((block) => {
    const kind = classify(block);
    return typeof kind === 'object' ? [`README.md:${block.line}: ${kind.error}`] : [];
  });
  assert.equal(problems, []);
  assert.ok(blocks.filter((b) => classify(b) === 'shell').length >= 3, 'shell blocks found');
});

test('the extractor reads directives, languages and unmarked blocks', () => {
  const sample = readmeBlocks(
    [
      '<!-- doc-test: skip (needs docker) -->',
      '```bash',
      'docker run x',
      '```',
      'text between',
      '<!-- doc-test: file a.json -->',
      '',
      '```json',
      '{}',
      '```',
      '```yaml',
      'a: 1',
      '```',
    ].join('\n'),
  );
  assert.equal(
    sample.map((b) => [b.line, b.lang, classify(b)]),
    [
      [2, 'bash', 'skip'],
      [8, 'json', 'file'],
      [11, 'yaml', { error: sample[2] ? (classify(sample[2]) as { error: string }).error : '' }],
    ],
  );
  assert.throws(() => readmeBlocks('<!-- doc-test: skip -->\n```bash\nx\n```\n'), /unknown doc-test comment/);
});

for (const block of blocks) {
  const kind = classify(block);
  if (typeof kind === 'object' || kind === 'skip') continue;
  const first = block.code.split('\n').find((l) => l.trim() !== '') ?? '';
  test(`README.md:${block.line} (${block.lang}) ${first.slice(0, 60)}`, () => runBlock(block, kind));
}

async function runBlock(block: Block, kind: Kind): Promise<void> {
  if (kind === 'shell') return runShell(block);
  if (kind === 'file' && block.directive.kind === 'file') {
    writeFileSync(path.join(app, block.directive.name), block.code);
    return;
  }
  if (kind === 'js' || kind === 'ts') return runCode(block, kind);
}

test.run();
