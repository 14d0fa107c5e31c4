/*
 * Memory follows the bytes received, not the bytes declared: connections that declare a 10 MiB
 * body and send none of it cost the gateway process next to nothing, virtual memory included.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('no reservation ahead of data');

const t = await createTestDatabase();
// An upstream that waits for bodies that never come (and answers the warm-up).
const upstream = await serve((req, res) => {
  req.resume();
  if (req.url === '/v1/warm') req.once('end', () => res.end('{}'));
});
const gateway = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0' }),
);
const { url, pid } = await gateway.ready();

test.after(async () => {
  gateway.stop();
  await upstream?.close();
  await t?.close();
});

const MiB = 1024 * 1024;

function kib(field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
}

test('reserves nothing for 200 connections declaring 10 MiB bodies they never send', async () => {
  const { port } = new URL(url);
  // Warm-up through the proxy: undici's first connection maps its parser (WebAssembly: gigabytes of
  // address space, reserved once), which must not count as growth.
  for (let i = 0; i < 3; i++) {
    await (await fetch(`${url}/ai/v1/warm`, { method: 'POST', body: '{"model":"m"}' })).arrayBuffer();
  }
  const before = { virtual: kib('VmSize'), resident: kib('VmRSS') };
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        `POST /ai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-x\r\n` +
          `content-type: application/json\r\ncontent-length: ${10 * MiB}\r\n\r\n{"model":"m"`,
      );
      sockets.push(socket);
    }
    // Give the gateway time to take every request in.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const grown = { virtual: kib('VmSize') - before.virtual, resident: kib('VmRSS') - before.resident };
    const report = `virtual +${(grown.virtual / MiB).toFixed(0)} MiB, resident +${(grown.resident / MiB).toFixed(0)} MiB`;
    console.log(report);
    // Reserving the declared lengths would take 2000 MiB of address space.
    assert.ok(grown.virtual < 300 * MiB, report);
    assert.ok(grown.resident < 150 * MiB, report);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
});

test.run();
