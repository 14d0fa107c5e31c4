/**
 * The lingering close after a 413, timed: how long after the answer the connection of a client
 * that never stops sending is cut (target: within a second past `lingeringTimeMs`), and that of a
 * client gone silent (within a second past `lingeringTimeoutMs`). The tests check that both are
 * cut; how soon is measured here.
 * Usage: node --import tsx bench/lingering-close.ts [--quick]
 */
import { once } from 'node:events';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { errorEnrichment } from '@control-layer/enrichment';
import Koa from 'koa';
import { startBenchDatabase } from './lib/database.ts';
import { median, printTable, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 5;
const LINGERING_TIME_MS = 1000;
const LINGERING_TIMEOUT_MS = 500;
const SLACK_MS = 1000;

/** ms from the 413 to the server closing the connection of a chunked upload sent every 5 ms. */
async function cutAfter(port: number, closed: Promise<number>, silentAfterAnswer: boolean): Promise<number> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  let answeredAt = 0;
  let received = '';
  socket.on('data', (data: Buffer) => {
    received += data.toString('latin1');
    if (!answeredAt && received.includes('\r\n\r\n')) answeredAt = performance.now();
  });
  let open = true;
  const closedAt = closed.then((at) => {
    open = false;
    return at;
  });
  socket.write('POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
  const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(64 * 1024, 0x61), Buffer.from('\r\n')]);
  const stopAt = performance.now() + 20_000;
  while (open && performance.now() < stopAt) {
    if (!(silentAfterAnswer && answeredAt)) socket.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  socket.destroy();
  return (await Promise.race([closedAt, Promise.resolve(performance.now())])) - answeredAt;
}

const database = await startBenchDatabase();
try {
  const app = new Koa();
  app.use(
    errorEnrichment({
      db: database.db,
      maxBodyBytes: 64 * 1024,
      lingeringTimeMs: LINGERING_TIME_MS,
      lingeringTimeoutMs: LINGERING_TIMEOUT_MS,
    }),
  );
  app.use(async (ctx) => {
    for await (const _ of ctx.req);
    ctx.status = 204;
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const measure = async (silent: boolean) => {
    const closed = new Promise<number>((resolve) =>
      server.once('connection', (socket: Socket) => socket.once('close', () => resolve(performance.now()))),
    );
    return cutAfter(port, closed, silent);
  };
  const endless: number[] = [];
  const silent: number[] = [];
  for (let round = 0; round < rounds; round++) {
    endless.push(await measure(false));
    silent.push(await measure(true));
  }
  server.close();
  const cases = [
    ['endless', 'a client that never stops sending', endless, LINGERING_TIME_MS],
    ['silent', 'a client gone silent after the answer', silent, LINGERING_TIMEOUT_MS],
  ] as const;
  console.log(
    `lingering close after a 413, ${rounds} rounds; lingeringTimeMs ${LINGERING_TIME_MS}, lingeringTimeoutMs ${LINGERING_TIMEOUT_MS}\n`,
  );
  printTable(
    ['client', 'cut after (ms, median)', 'bound (ms)'],
    cases.map(([, what, values, bound]) => [what, median(values).toFixed(0), `${bound}–${bound + SLACK_MS}`]),
  );
  for (const [key, , values, bound] of cases) {
    const value = median(values);
    reportLine(
      'lingering-close',
      `cut_after_ms_${key}`,
      value,
      `${bound}–${bound + SLACK_MS}`,
      value >= bound * 0.9 && value <= bound + SLACK_MS,
    );
  }
} finally {
  await database.close();
}
