/**
 * A minimal, fast OpenAI-shaped upstream on plain `node:http`: it reads each request body to the
 * end and answers with a response prepared once, so that what a benchmark measures is the proxy
 * in front of it.
 * Usage: upstream.ts ok|forbidden|sse|sse-long
 *   ok         200 with a canned chat completion (any path)
 *   forbidden  the router's bare 403 (any path)
 *   sse        200 `text/event-stream`: one event at once, three more 2 ms apart, then [DONE]
 *   sse-long   200 `text/event-stream`: an event every 500 ms for SSE_SECONDS (default 15), then [DONE]
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const MODES = ['ok', 'forbidden', 'sse', 'sse-long'] as const;
type Mode = (typeof MODES)[number];

const mode = process.argv[2] as Mode;
if (!MODES.includes(mode)) {
  console.error(`usage: upstream.ts ${MODES.join('|')}`);
  process.exit(2);
}

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'bench-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  }),
);
const FORBIDDEN = Buffer.from(
  JSON.stringify({ error: { message: 'Forbidden', type: 'invalid_request_error', param: null, code: 'forbidden' } }),
);

function sendFixed(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function sendEvents(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write('data: {"n":0}\n\n');
  let n = 1;
  const timer = setInterval(() => {
    if (n === 4) {
      clearInterval(timer);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.write(`data: {"n":${n++}}\n\n`);
  }, 2);
  res.once('close', () => clearInterval(timer));
}

/** A long answer, as an LLM streams one: what a request body must not be held for. */
function sendLongEvents(res: ServerResponse, seconds: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write('data: {"n":0}\n\n');
  let n = 1;
  const last = Math.max(1, Math.round(seconds * 2));
  const timer = setInterval(() => {
    if (n >= last) {
      clearInterval(timer);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.write(`data: {"n":${n++}}\n\n`);
  }, 500);
  res.once('close', () => clearInterval(timer));
}
const SSE_SECONDS = Number(process.env.SSE_SECONDS ?? 15);

const server = createServer((req, res) => {
  req.resume();
  req.once('end', () => {
    if (mode === 'sse') sendEvents(res);
    else if (mode === 'sse-long') sendLongEvents(res, SSE_SECONDS);
    else if (mode === 'forbidden') sendFixed(res, 403, FORBIDDEN);
    else sendFixed(res, 200, COMPLETION);
  });
});
// Proxies keep connections for up to a few seconds; never be the side that closes one mid-reuse.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
