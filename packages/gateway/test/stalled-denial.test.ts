/*
 * A router's 403 whose body stops half-way: the diagnosis starts from the status and headers, the
 * client gets the explained answer, and the stalled upstream connection is released, however long
 * the upstream body timeout is.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, MODEL, seedWorld, serve, startGateway, within } from './helpers.ts';

const test = suite('stalled denial');

const FRAMINGS = {
  'content-length': 'content-length: 200\r\n\r\n{"error":{"message":"Forb',
  chunked: 'transfer-encoding: chunked\r\n\r\n10\r\n{"error":{"messa\r\n',
} as const;
type Framing = keyof typeof FRAMINGS;

/** An upstream that answers 403, sends part of the body and then nothing; it records its sockets' closes. */
async function stallingUpstream(framing: Framing) {
  const closed: Promise<void>[] = [];
  const server = createServer((socket: Socket) => {
    closed.push(once(socket, 'close').then(() => {}));
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n${FRAMINGS[framing]}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed, server };
}

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);

test.after(async () => {
  await t?.close();
});

for (const framing of Object.keys(FRAMINGS) as Framing[]) {
  test(`explains a 403 whose ${framing} body stalls, and releases the upstream connection`, async () => {
    const upstream = await stallingUpstream(framing);
    // The body timeout is an hour: only a diagnosis that does not wait for the body answers.
    const gateway = await startGateway(t.db, upstream.url, {
      enrichmentTimeoutMs: 200,
      upstreamBodyTimeoutMs: 3_600_000,
    });
    try {
      const response = await within(
        fetch(`${gateway.url}/ai/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys.outsider}`, 'content-type': 'application/json' },
          body: JSON.stringify(chat(MODEL)),
        }),
        'the explained answer',
        30_000,
      );
      assert.is(response.status, 403);
      const error = ((await response.json()) as { error: { code: string; model: string } }).error;
      assert.is(error.code, 'model_access_denied');
      assert.is(error.model, MODEL);
      assert.is(upstream.closed.length, 1);
      await within(upstream.closed[0] as Promise<void>, 'the upstream connection to close', 30_000);
    } finally {
      await gateway.close();
      upstream.server.close();
    }
  });
}

test('keeps the upstream connection of a 403 that arrived whole', async () => {
  let connections = 0;
  const upstream = await serve((req, res) => {
    req.resume();
    res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":{"message":"Forbidden"}}');
  });
  upstream.server.on('connection', () => connections++);
  const gateway = await startGateway(t.db, upstream.url);
  try {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${gateway.url}/ai/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.outsider}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat(MODEL)),
      });
      assert.is(((await response.json()) as { error: { code: string } }).error.code, 'model_access_denied');
    }
    assert.is(connections, 1);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

test.run();
