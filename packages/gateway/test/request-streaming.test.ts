/*
 * Request bodies through the gateway with enrichment on: forwarded as they arrive (not stored
 * first), byte for byte whatever their framing or encoding.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, scriptedUpstream, seedWorld, serve, startGateway, within } from './helpers.ts';

const test = suite('request streaming');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);

test.after(async () => {
  await t?.close();
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** POST `pieces` with node:http, chunked or with their total length; resolves with the status. */
function upload(
  url: string,
  pieces: Buffer[],
  headers: Record<string, string | number>,
  between?: () => Promise<void>,
) {
  const req = httpRequest(`${url}/ai/v1/chat/completions`, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${keys.working}`, ...headers },
  });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  void (async () => {
    for (const [i, piece] of pieces.entries()) {
      req.write(piece);
      if (i === 0 && between) await between();
    }
    req.end();
  })();
  return done;
}

test('sends the first bytes upstream before the client has sent the last', async () => {
  const firstBytes = gate();
  let received = 0;
  const upstream = await serve(async (req, res) => {
    for await (const chunk of req) {
      received += (chunk as Buffer).length;
      firstBytes.open();
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"received":${received}}`);
  });
  const front = await startGateway(t.db, upstream.url);
  try {
    const pieces = [Buffer.from('{"model":"gpt-test","pad":"'), Buffer.alloc(256 * 1024, 0x61), Buffer.from('"}')];
    // The client holds back everything after its first piece until the upstream has seen bytes:
    // a gateway that stored the body before forwarding it would never get there.
    const status = await within(
      upload(front.url, pieces, { 'transfer-encoding': 'chunked' }, () =>
        within(firstBytes.promise, 'the upstream to receive the first bytes', 5000),
      ),
      'the upload to complete',
    );
    assert.is(status, 200);
    assert.is(
      received,
      pieces.reduce((n, p) => n + p.length, 0),
    );
  } finally {
    await front.close();
    await upstream.close();
  }
});

test('hands the upstream the exact bytes of identity, chunked and compressed uploads (SHA-256)', async () => {
  const upstream = await scriptedUpstream();
  const front = await startGateway(t.db, upstream.url);
  try {
    const random = randomBytes(3 * 1024 * 1024 + 17);
    const json = Buffer.from(
      JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'é✓'.repeat(5e4) }] }),
    );
    const cases: { name: string; body: Buffer; headers: Record<string, string | number>; pieces: number }[] = [
      { name: 'identity, declared', body: random, headers: { 'content-length': random.length }, pieces: 1 },
      { name: 'identity, chunked', body: random, headers: { 'transfer-encoding': 'chunked' }, pieces: 37 },
      { name: 'json, chunked', body: json, headers: { 'transfer-encoding': 'chunked' }, pieces: 5 },
      {
        name: 'gzip, declared',
        body: gzipSync(json),
        headers: {
          'content-encoding': 'gzip',
          'content-type': 'application/json',
          'content-length': gzipSync(json).length,
        },
        pieces: 1,
      },
      {
        name: 'gzip, chunked',
        body: gzipSync(json),
        headers: { 'content-encoding': 'gzip', 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        pieces: 3,
      },
    ];
    for (const c of cases) {
      const size = Math.ceil(c.body.length / c.pieces);
      const pieces = Array.from({ length: c.pieces }, (_, i) => c.body.subarray(i * size, (i + 1) * size));
      assert.is(await upload(front.url, pieces, c.headers), 200, c.name);
      const got = upstream.last();
      assert.is(sha256(got.body), sha256(c.body), c.name);
      assert.is(got.headers['content-encoding'], c.headers['content-encoding'], c.name);
    }
  } finally {
    await front.close();
    await upstream.close();
  }
});

test.run();
