import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface ChildServer {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Start `script` (TypeScript, run through tsx) in its own process; it must print `LISTENING <url>`
 * on stdout once it accepts connections. Keeping servers out of the load generator's process
 * stops the two from sharing an event loop.
 */
export async function startChildServer(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<ChildServer> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.resolve(import.meta.dirname, '..', script), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /LISTENING (\S+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before listening`));
    });
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
