/**
 * Preload (`node --import`) for servers that listen on every interface when given no host, such
 * as Portkey's: a listen on a bare port binds 127.0.0.1 instead. Benchmarks use loopback only.
 */
import { Server } from 'node:net';

const listen = Server.prototype.listen as (this: Server, ...args: unknown[]) => Server;
Server.prototype.listen = function listenOnLoopback(this: Server, ...args: unknown[]): Server {
  const [port, host, ...rest] = args;
  if (typeof port === 'number' && (host === undefined || typeof host === 'function')) {
    return listen.call(this, port, '127.0.0.1', ...(host === undefined ? rest : [host, ...rest]));
  }
  return listen.apply(this, args);
} as typeof Server.prototype.listen;
