import pg from 'pg';

export interface NotificationListener {
  /** Payloads received so far, in order. */
  readonly payloads: string[];
  /** Payloads received so far that start with `prefix`. */
  matching(prefix: string): string[];
  /** Resolve with the first payload (received or to come) that starts with `prefix`; reject after `timeoutMs`. */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  /** Forget what was received so far. */
  clear(): void;
  close(): Promise<void>;
}

/** LISTEN on `channel` over a connection of its own (a pool would hand the LISTEN to any client). */
export async function listenNotifications(url: string, channel: string): Promise<NotificationListener> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const payloads: string[] = [];
  const waiters: { prefix: string; resolve: (payload: string) => void }[] = [];
  client.on('notification', (message) => {
    if (message.channel !== channel) return;
    const payload = message.payload ?? '';
    payloads.push(payload);
    for (const waiter of waiters.filter((w) => payload.startsWith(w.prefix))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(payload);
    }
  });
  await client.query(`listen "${channel.replaceAll('"', '""')}"`);
  return {
    payloads,
    matching: (prefix) => payloads.filter((p) => p.startsWith(prefix)),
    waitFor(prefix, timeoutMs = 2000) {
      const seen = payloads.find((p) => p.startsWith(prefix));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${prefix} notification within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          prefix,
          resolve: (payload) => {
            clearTimeout(timer);
            resolve(payload);
          },
        });
      });
    },
    clear: () => {
      payloads.length = 0;
    },
    close: () => client.end(),
  };
}
