import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DatabaseLockedError, LOCK_FILE, lockDataDir, openDatabase } from '../src/index.ts';

const test = suite('embedded database lock');

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cl-lock-'));
  dirs.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

const writeLock = (dir: string, content: object | string) =>
  writeFileSync(path.join(dir, LOCK_FILE), typeof content === 'string' ? content : JSON.stringify(content));

/** A node process that takes the lock, says so, and waits to be killed. */
function holderProcess(dir: string) {
  const script = `import { lockDataDir } from ${JSON.stringify(path.resolve(import.meta.dirname, '../src/data-dir-lock.ts'))};
lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before locking`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, locked, exited };
}

test('refuse a second holder, naming the first by pid, and let go on release', () => {
  const dir = freshDir();
  const lock = lockDataDir(dir);
  const error = thrown(() => lockDataDir(dir));
  assert.instance(error, DatabaseLockedError);
  assert.is((error as DatabaseLockedError).holderPid, process.pid);
  assert.match((error as Error).message, new RegExp(`in use by process ${process.pid} \\(since `));
  lock.release();
  lock.release();
  assert.not.ok(existsSync(path.join(dir, LOCK_FILE)));
  lockDataDir(dir).release();
});

test('take over the lock of a process that was killed with SIGKILL', async () => {
  const dir = freshDir();
  const holder = holderProcess(dir);
  await holder.locked;
  const refused = thrown(() => lockDataDir(dir));
  assert.is((refused as DatabaseLockedError).holderPid, holder.child.pid);
  holder.child.kill('SIGKILL');
  await holder.exited;
  assert.ok(existsSync(path.join(dir, LOCK_FILE)), 'SIGKILL leaves the lock behind');
  const lock = lockDataDir(dir);
  assert.is(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  lock.release();
});

test('of processes racing for one directory, exactly one holds it, stale lock or not', async () => {
  for (const stale of [false, true]) {
    const dir = freshDir();
    if (stale) writeLock(dir, { pid: 999_999_999, host: hostname(), startTime: null, token: 'dead', since: 'then' });
    const racers = Array.from({ length: 4 }, () => holderProcess(dir));
    const outcomes = await Promise.all(
      racers.map((racer) =>
        racer.locked.then(
          () => 'locked',
          () => 'refused',
        ),
      ),
    );
    for (const racer of racers) racer.child.kill('SIGKILL');
    await Promise.all(racers.map((racer) => racer.exited));
    assert.is(outcomes.filter((o) => o === 'locked').length, 1, `${stale ? 'stale' : 'empty'}: ${outcomes}`);
  }
});

test('take over a lock whose pid now belongs to another process, or that is unreadable', () => {
  const dir = freshDir();
  // Our own pid, alive, but started at another time: the pid was recycled.
  writeLock(dir, { pid: process.pid, host: hostname(), startTime: '1', token: 'old', since: 'then' });
  lockDataDir(dir).release();
  writeLock(dir, 'half a lo');
  lockDataDir(dir).release();
  writeLock(dir, { pid: 0, host: hostname(), startTime: null, token: 'zero', since: 'then' });
  lockDataDir(dir).release();
});

test('refuse a lock held from another machine, which cannot be checked', () => {
  const dir = freshDir();
  writeLock(dir, { pid: 4242, host: 'elsewhere', startTime: null, token: 't', since: 'yesterday' });
  const error = thrown(() => lockDataDir(dir));
  assert.match((error as Error).message, /in use by process 4242 on elsewhere \(since yesterday\)/);
});

test('openDatabase takes the lock before PGlite touches the directory', async () => {
  const dir = freshDir();
  const held = lockDataDir(dir);
  try {
    for (const url of [`pglite:${dir}`, { kind: 'embedded' as const, dataDir: dir }]) {
      const error = await openDatabase(url).then(
        () => null,
        (e: unknown) => e,
      );
      assert.instance(error, DatabaseLockedError, JSON.stringify(url));
    }
    assert.not.ok(existsSync(path.join(dir, 'PG_VERSION')), 'PGlite initialised a locked directory');
  } finally {
    held.release();
  }
});

test.run();
