import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './cli-error.ts';

const MAX_SECRET_BYTES = 4096;

/**
 * An API key from a file or from stdin, never from argv: command lines end up in shell history
 * and in every process listing. Surrounding whitespace (a trailing newline) is dropped.
 */
export async function readSecret(keyFile: string | undefined): Promise<string> {
  let raw: string;
  if (keyFile !== undefined) {
    // `pnpm cli` runs from the repository root; a relative path means where the command was typed.
    const file = path.resolve(process.env.INIT_CWD || process.cwd(), keyFile);
    raw = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read the key file ${keyFile}: ${error.code ?? error.message}`);
    });
  } else {
    if (process.stdin.isTTY) {
      throw new CliError(
        'pass the key on stdin (for example `control-layer explain <model> < key.txt`) or with --key-file',
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > MAX_SECRET_BYTES) throw new CliError('stdin holds more than an API key');
      chunks.push(chunk as Buffer);
    }
    raw = Buffer.concat(chunks).toString('utf8');
  }
  const secret = raw.trim();
  if (secret === '') throw new CliError('no key given: stdin or the key file is empty');
  if (/\s/.test(secret)) throw new CliError('the key contains whitespace: give one key, alone');
  return secret;
}
