import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '@control-layer/db';
import { seedDenialWorld } from '@control-layer/db/testing';
import type Koa from 'koa';
import OpenAI from 'openai';
import { createGateway, createStubUpstream, type Gateway, type GatewayOptions } from '../src/index.ts';

export interface Listening {
  url: string;
  port: number;
  server: Server;
  /** Stop listening and cut every open connection. */
  close: () => Promise<void>;
}

/** Serve a Koa app or a plain request listener on a free loopback port. */
export async function serve(handler: Koa | RequestListener): Promise<Listening> {
  const listener = typeof handler === 'function' ? handler : handler.callback();
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: async () => {
      server.closeAllConnections();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A loopback address where nothing listens. Every test server binds 127.0.0.1, so a port freed on
 * 127.0.0.2 (also loopback on Linux) cannot be taken again by one of them in the meantime.
 */
export async function closedAddress(): Promise<string> {
  const probe = createServer();
  probe.listen(0, '127.0.0.2');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `127.0.0.2:${port}`;
}

/** A gateway in front of `upstreamUrl`, on a real socket. */
export async function startGateway(db: Database, upstreamUrl: string, options: Partial<GatewayOptions> = {}) {
  const gateway = createGateway({ db, upstreamUrl, ...options });
  gateway.silent = true;
  const front = await serve(gateway);
  return {
    gateway,
    url: front.url,
    close: async () => {
      await front.close();
      await gateway.destroy();
    },
  };
}

export interface Stack {
  gateway: Gateway;
  gatewayUrl: string;
  stubUrl: string;
  close: () => Promise<void>;
}

/** The stub upstream and a gateway in front of it, both on real sockets, sharing `db`. */
export async function startStack(db: Database, options: Partial<GatewayOptions> = {}): Promise<Stack> {
  const stub = await serve(createStubUpstream({ db, chunkDelayMs: 1 }));
  const front = await startGateway(db, stub.url, options);
  return {
    gateway: front.gateway,
    gatewayUrl: front.url,
    stubUrl: stub.url,
    close: async () => {
      await front.close();
      await stub.close();
    },
  };
}

/** The official SDK pointed at the gateway; no retries, so each call is one request. */
export function openaiClient(gatewayUrl: string, apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${gatewayUrl}/ai/v1`, maxRetries: 0 });
}

export const MODEL = 'gpt-test';
export const chat = (model: string = MODEL) => ({ model, messages: [{ role: 'user' as const, content: 'Hello' }] });

/**
 * One model reachable through a group, with batch keys denied on it, and a key per outcome:
 * `working` (member, credits), `batch` (same owner, batch purpose), `broke` (member, balance
 * -50), `outsider` (credits, no group).
 */
export function seedWorld(db: Database) {
  return seedDenialWorld(db, MODEL);
}

/**
 * A promise with its resolver, for a test to hold a handler until the test says so. `within`
 * turns a wait that would hang into a failure that names what never happened.
 */
export function gate<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, open: (value: T) => resolve(value) };
}

export async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll `check` until it returns true; fails after `ms` naming `what`. */
export async function waitFor(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with node:http, exactly as given (no client-side header rewriting), body read whole. */
export async function send(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<RawResponse> {
  // Split by hand: `new URL()` would resolve `..` segments before they are sent.
  const [, origin = '', path = '/'] = /^(https?:\/\/[^/]+)(\/.*)?$/.exec(url) ?? [];
  const { hostname, port } = new URL(origin);
  const req = httpRequest({
    hostname,
    port,
    path,
    method: options.method ?? 'GET',
    headers: options.headers,
    agent: false,
  });
  req.end(options.body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * An upstream the test scripts: it records each request whose body arrived whole and answers it
 * with `respond`.
 */
export async function scriptedUpstream() {
  const requests: RecordedRequest[] = [];
  let aborted = 0;
  let respond: (req: RecordedRequest, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  const listening = await serve(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      // The gateway aborted the request mid-body (its client left, or the body crossed the limit):
      // nothing complete arrived, so nothing is recorded.
      aborted++;
      return;
    }
    const recorded = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    requests.push(recorded);
    respond(recorded, res);
  });
  return {
    ...listening,
    requests,
    /** Requests whose body never arrived whole. */
    aborted: () => aborted,
    /** Answer the next requests with `handler`. */
    respondWith(handler: typeof respond) {
      respond = handler;
    },
    last(): RecordedRequest {
      const last = requests.at(-1);
      if (!last) throw new Error('the upstream got no request');
      return last;
    },
  };
}
