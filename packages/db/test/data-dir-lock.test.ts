import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DatabaseLockedError,
  LOCK_FILE,
  type LockOptions,
  lockDataDir,
  openDatabase,
  type StaleLock,
} from '../src/index.ts';

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

async function thrown(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** lockDataDir, recording the takeovers it reports. */
async function lockNoting(dir: string, options: LockOptions = {}) {
  const takeovers: StaleLock[] = [];
  const lock = await lockDataDir(dir, { ...options, onTakeover: (stale) => takeovers.push(stale) });
  return { lock, takeovers };
}

const writeLock = (dir: string, content: object | string) =>
  writeFileSync(path.join(dir, LOCK_FILE), typeof content === 'string' ? content : JSON.stringify(content));

/** A node process that takes the lock, says so, and waits to be killed. */
function holderProcess(dir: string) {
  const script = `import { lockDataDir } from ${JSON.stringify(path.resolve(import.meta.dirname, '../src/data-dir-lock.ts'))};
await lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 60_000);`;
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

test('refuse a second holder, naming the first by pid, and let go on release', async () => {
  const dir = freshDir();
  const lock = await lockDataDir(dir);
  const error = await thrown(() => lockDataDir(dir));
  assert.instance(error, DatabaseLockedError);
  assert.is((error as DatabaseLockedError).holderPid, process.pid);
  assert.match((error as Error).message, new RegExp(`in use by process ${process.pid} \\(since `));
  lock.release();
  lock.release();
  assert.not.ok(existsSync(path.join(dir, LOCK_FILE)));
  (await lockDataDir(dir)).release();
});

test('refuse a live holder in another process, and take over its lock once it is killed with SIGKILL', async () => {
  const dir = freshDir();
  const holder = holderProcess(dir);
  await holder.locked;
  const refused = await thrown(() => lockDataDir(dir));
  assert.is((refused as DatabaseLockedError).holderPid, holder.child.pid);
  holder.child.kill('SIGKILL');
  await holder.exited;
  assert.ok(existsSync(path.join(dir, LOCK_FILE)), 'SIGKILL leaves the lock behind');
  const { lock, takeovers } = await lockNoting(dir);
  assert.is(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  assert.equal(
    takeovers.map((t) => [t.pid, t.host, t.reason]),
    [[holder.child.pid, hostname(), 'process gone']],
  );
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

test('take over a lock whose pid now belongs to another process, or that is unreadable', async () => {
  const dir = freshDir();
  // Our own pid, alive, but started at another time: the pid was recycled.
  writeLock(dir, { pid: process.pid, host: hostname(), startTime: '1', token: 'old', since: 'then' });
  (await lockDataDir(dir, { onTakeover: () => {} })).release();
  writeLock(dir, 'half a lo');
  (await lockDataDir(dir, { onTakeover: () => {} })).release();
  writeLock(dir, { pid: 0, host: hostname(), startTime: null, token: 'zero', since: 'then' });
  (await lockDataDir(dir, { onTakeover: () => {} })).release();
});

test('take over a lock left under another hostname whose heartbeat stopped, saying whose it was', async () => {
  const dir = freshDir();
  // A container killed and restarted under a new hostname: its pid means nothing here.
  writeLock(dir, { pid: 1, host: 'old-container', startTime: '7', token: 't', since: 'yesterday', heartbeatMs: 20 });
  const { lock, takeovers } = await lockNoting(dir);
  assert.equal(takeovers, [
    { dataDir: dir, pid: 1, host: 'old-container', since: 'yesterday', reason: 'no heartbeat' },
  ]);
  lock.release();
  // A lock written before heartbeats existed is watched for the default period, then taken too.
  writeLock(dir, { pid: 4242, host: 'elsewhere', startTime: null, token: 'u', since: 'last week' });
  const legacy = await lockNoting(dir);
  assert.is(legacy.takeovers[0]?.reason, 'no heartbeat');
  legacy.lock.release();
});

test('watch the heartbeat of a holder under this hostname but in another pid namespace', async () => {
  const dir = freshDir();
  // A container sharing this hostname and the volume, not the process table: its pid 1 is not ours.
  writeLock(dir, {
    pid: 1,
    host: hostname(),
    startTime: '7',
    token: 't',
    since: 'then',
    heartbeatMs: 20,
    pidNamespace: 'pid:[1]',
  });
  const { lock, takeovers } = await lockNoting(dir);
  assert.is(takeovers[0]?.reason, 'no heartbeat');
  lock.release();
});

test('refuse a lock held under another hostname by a holder whose heartbeat goes on', async () => {
  const dir = freshDir();
  const held = await lockDataDir(dir, { heartbeatMs: 20 });
  try {
    // The live holder as seen from another host on a shared disk: its host differs, its heartbeat runs.
    const file = path.join(dir, LOCK_FILE);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), host: 'other-box' }));
    const error = await thrown(() => lockDataDir(dir));
    assert.instance(error, DatabaseLockedError);
    assert.match((error as Error).message, new RegExp(`in use by process ${process.pid} on other-box`));
  } finally {
    held.release();
  }
});

test('openDatabase takes the lock before PGlite touches the directory', async () => {
  const dir = freshDir();
  const held = await lockDataDir(dir);
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
