import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import OpenAI from 'openai';

/** What a client made of an upload: the status and error code it read, or the error it got instead. */
export interface UploadOutcome {
  status: number;
  code: string | null;
  error: string | null;
}

export type Framing = 'declared' | 'chunked';

export const UPLOAD_PATH = '/ai/v1/chat/completions';

/** `size` bytes of a JSON chat request (a model, then one long message), in 64 KiB pieces. */
export function* jsonPieces(size: number, piece = 64 * 1024): Generator<Buffer> {
  const head = Buffer.from('{"model":"gpt-test","messages":[{"role":"user","content":"');
  const tail = Buffer.from('"}]}');
  const filler = Buffer.alloc(piece, 0x61);
  yield head;
  let left = size - head.length - tail.length;
  while (left > 0) {
    const n = Math.min(left, piece);
    yield n === piece ? filler : filler.subarray(0, n);
    left -= n;
  }
  yield tail;
}

export function jsonBody(size: number): Buffer {
  return Buffer.concat([...jsonPieces(size)]);
}

function codeOf(text: string): string | null {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
  } catch {
    return null;
  }
}

function failure(error: unknown): UploadOutcome {
  const e = error as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  return { status: 0, code: null, error: e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(error) };
}

export async function viaFetch(url: string, key: string, size: number, framing: Framing): Promise<UploadOutcome> {
  try {
    const body = framing === 'declared' ? jsonBody(size) : Readable.toWeb(Readable.from(jsonPieces(size)));
    const response = await fetch(url + UPLOAD_PATH, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
      ...(framing === 'chunked' && { duplex: 'half' }),
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, code: codeOf(text), error: null };
  } catch (error) {
    return failure(error);
  }
}

function drainedOrClosed(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

export function viaNodeHttp(url: string, key: string, size: number, framing: Framing): Promise<UploadOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const req = httpRequest({
      hostname,
      port,
      path: UPLOAD_PATH,
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...(framing === 'declared' ? { 'content-length': size } : { 'transfer-encoding': 'chunked' }),
      },
    });
    let settled = false;
    const settle = (outcome: UploadOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => settle({ status: res.statusCode ?? 0, code: codeOf(text), error: null }));
      res.on('error', (error) => settle(failure(error)));
    });
    req.on('error', (error) => settle(failure(error)));
    // Written with back-pressure, as a careful client does; the request errors if the server cuts it.
    void (async () => {
      for (const piece of jsonPieces(size)) {
        if (req.destroyed) return;
        if (!req.write(piece)) await drainedOrClosed(req);
      }
      req.end();
    })();
  });
}

export async function viaCurl(url: string, key: string, size: number, framing: Framing): Promise<UploadOutcome> {
  const child = spawn(
    'curl',
    [
      '-sS',
      '--max-time',
      '60',
      '-X',
      'POST',
      '-H',
      `authorization: Bearer ${key}`,
      '-H',
      'content-type: application/json',
      ...(framing === 'chunked' ? ['-H', 'transfer-encoding: chunked'] : []),
      '--data-binary',
      '@-',
      '-w',
      '\n%{http_code}',
      url + UPLOAD_PATH,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk;
  });
  child.stdin.on('error', () => {});
  // curl reads the whole of stdin before sending, so the declared length is known to it.
  Readable.from(jsonPieces(size)).pipe(child.stdin);
  const [exit] = (await once(child, 'close')) as [number];
  const newline = out.lastIndexOf('\n');
  const status = Number(out.slice(newline + 1));
  if (exit !== 0) return { status, code: codeOf(out.slice(0, newline)), error: `curl exit ${exit}: ${err.trim()}` };
  return { status, code: codeOf(out.slice(0, newline)), error: null };
}

export async function viaOpenAI(url: string, key: string, size: number, framing: Framing): Promise<UploadOutcome> {
  const client = new OpenAI({ apiKey: key, baseURL: `${url}/ai/v1`, maxRetries: 0, timeout: 60_000 });
  try {
    if (framing === 'declared') {
      const content = 'a'.repeat(size);
      await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content }] });
    } else {
      await client.post('/chat/completions', {
        body: jsonPieces(size),
        headers: { 'content-type': 'application/json' },
      });
    }
    return { status: 200, code: null, error: null };
  } catch (error) {
    if (error instanceof OpenAI.APIError && error.status !== undefined) {
      return { status: error.status, code: typeof error.code === 'string' ? error.code : null, error: null };
    }
    return failure(error);
  }
}

export const CLIENTS = { fetch: viaFetch, 'node:http': viaNodeHttp, curl: viaCurl, openai: viaOpenAI } as const;
