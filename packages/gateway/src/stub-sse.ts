import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** One server-sent event: its `event:` name where the API names its events, and its JSON data. */
export interface ServerSentEvent {
  event?: string;
  data: object;
}

/** An event whose `event:` name repeats its data's `type`, as Anthropic and Responses streams do. */
export function typedEvent<T extends { type: string }>(data: T): ServerSentEvent {
  return { event: data.type, data };
}

function frame({ event, data }: ServerSentEvent): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/**
 * A `text/event-stream` body: the events `delayMs` apart, then `trailer` (chat completions end
 * with `data: [DONE]`; the other APIs end with their last event). Stops writing when the reader
 * goes away (Koa destroys the stream).
 */
export function eventStream(events: readonly ServerSentEvent[], delayMs: number, trailer = ''): PassThrough {
  const stream = new PassThrough();
  const write = async () => {
    for (const event of events) {
      if (stream.destroyed) return;
      stream.write(frame(event));
      await sleep(delayMs);
    }
    if (!stream.destroyed) stream.end(trailer);
  };
  void write();
  return stream;
}
