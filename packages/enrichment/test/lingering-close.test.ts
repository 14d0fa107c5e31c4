/*
 * After a 413 the rest of the upload is read and discarded for a bounded time (nginx's lingering
 * close), then the connection closes: a client that never stops sending is cut off. How soon
 * after the answer is bench/lingering-close.ts's to measure.
 */
import { once } from 'node:events';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { withTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from './helpers.ts';

const test = suite('lingering close');

interface Endless {
  status: number;
  /** The server closed the connection (rather than the client giving up after 20 s). */
  cutByServer: boolean;
  sentAfterAnswer: number;
}

/**
 * A chunked upload over a raw socket (a node:http client would stop on its own once answered with
 * `connection: close`) that keeps sending a 64 KiB chunk every `pauseMs` until the server cuts the
 * connection or 20 s pass. `silentAfterAnswer`: stop sending once the answer arrives, but stay open.
 */
async function endlessUpload(
  port: number,
  serverClosed: Promise<void>,
  pauseMs: number,
  silentAfterAnswer = false,
): Promise<Endless> {
  // Half-open: the server's FIN after the answer does not stop this client from sending.
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  let received = '';
  let answered = false;
  let sentAfterAnswer = 0;
  socket.on('data', (data: Buffer) => {
    received += data.toString('latin1');
    if (received.includes('\r\n\r\n')) answered = true;
  });
  let open = true;
  void serverClosed.then(() => {
    open = false;
  });
  socket.write('POST /ai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
  const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(64 * 1024, 0x61), Buffer.from('\r\n')]);
  const stopAt = performance.now() + 20_000;
  while (open && performance.now() < stopAt) {
    if (!(silentAfterAnswer && answered)) {
      socket.write(chunk);
      if (answered) sentAfterAnswer += chunk.length;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  socket.destroy();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
  return { status, cutByServer: !open, sentAfterAnswer };
}

async function listening(limits: { lingeringTimeMs: number; lingeringTimeoutMs: number }, db: never) {
  // Downstream reads the body, as a proxy does, so the limit is crossed while it streams.
  const app = createApp({ db, maxBodyBytes: 64 * 1024, ...limits }, async (ctx) => {
    for await (const _ of ctx.req);
    ctx.status = 204;
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // When the server closed the connection: a silent client would not notice on its own.
  const closed = new Promise<void>((resolve) =>
    server.once('connection', (socket: Socket) => socket.once('close', () => resolve())),
  );
  return { server, port: (server.address() as AddressInfo).port, closed };
}

test('cuts off a client that never stops sending after lingeringTimeMs', () =>
  withTestDatabase(async (db) => {
    const { server, port, closed } = await listening({ lingeringTimeMs: 1000, lingeringTimeoutMs: 5000 }, db as never);
    try {
      const outcome = await endlessUpload(port, closed, 5);
      assert.is(outcome.status, 413);
      assert.ok(outcome.sentAfterAnswer > 0, 'the upload went on after the answer');
      assert.ok(outcome.cutByServer, 'the server never closed the connection');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }));

test('cuts off a client that goes silent after lingeringTimeoutMs', () =>
  withTestDatabase(async (db) => {
    const { server, port, closed } = await listening({ lingeringTimeMs: 30_000, lingeringTimeoutMs: 500 }, db as never);
    try {
      const outcome = await endlessUpload(port, closed, 5, true);
      assert.is(outcome.status, 413);
      assert.ok(outcome.cutByServer, 'the server never closed the connection');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }));

test.run();
