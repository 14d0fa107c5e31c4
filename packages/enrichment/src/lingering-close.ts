import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerLimits {
  /** Longest time the rest of a refused upload is read and discarded after the answer, in ms. */
  lingeringTimeMs: number;
  /** Longest silence from the client during that time, in ms. */
  lingeringTimeoutMs: number;
}

/** nginx's `lingering_time` and `lingering_timeout`. */
export const DEFAULT_LINGER: LingerLimits = { lingeringTimeMs: 30_000, lingeringTimeoutMs: 5_000 };

const noop = () => {};

/**
 * Close the connection of a refused upload the way nginx's `lingering_close` does: answer,
 * half-close, read and discard whatever the client still sends, then close. Call it before the
 * answer (sent with `connection: close`) is written.
 *
 * Node ends a `connection: close` response with `socket.destroySoon()`, which destroys the socket
 * as soon as the answer is flushed. With upload bytes still unread the kernel then sends a reset,
 * and a reset makes the client's kernel drop the answer it had not read yet: the client sees
 * `EPIPE` or `ECONNRESET` instead of the 413. So, for this socket only, the close becomes: send
 * FIN after the answer, keep reading (the rest of the body goes through Node's HTTP parser and is
 * dropped chunk by chunk, nothing is kept), and destroy the socket once the client closes its
 * side, or after `lingeringTimeoutMs` of silence, or `lingeringTimeMs` in all, whichever comes
 * first. The bound is time, not bytes: a fast client's whole upload is read; one that never stops
 * is cut off.
 */
export function lingerAfterAnswer(req: IncomingMessage, limits: LingerLimits = DEFAULT_LINGER): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  req.on('error', noop);
  req.resume();
  if (!socket || socket.destroyed) return;
  const closeSoon = socket.destroySoon;
  socket.destroySoon = function lingeringClose(this: Socket) {
    socket.destroySoon = closeSoon;
    const cut = () => socket.destroy();
    const total = setTimeout(cut, limits.lingeringTimeMs);
    const idle = setTimeout(cut, limits.lingeringTimeoutMs);
    total.unref();
    idle.unref();
    const refresh = () => idle.refresh();
    req.on('data', refresh);
    socket.once('end', cut);
    socket.once('close', () => {
      clearTimeout(total);
      clearTimeout(idle);
      req.off('data', refresh);
    });
    socket.on('error', noop);
    socket.end();
  };
}
