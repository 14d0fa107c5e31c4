/*
 * The OpenAPI document says what the gateway does: it is valid OpenAPI 3.1 (swagger-parser),
 * up to date with the code, served at /openapi.json, and every error the gateway writes, for each
 * code, validates (ajv) against the response the document gives for that route and status,
 * headers included.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import SwaggerParser from '@apidevtools/swagger-parser';
import { apiKeys, createApiKey, type Database, hashSecret } from '@control-layer/db';
import {
  bypassLedgerGuard,
  createTestDatabase,
  type DenialWorldKeys,
  type TestDatabase,
} from '@control-layer/db/testing';
import { ERROR_CODES } from '@control-layer/enrichment';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { eq, sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OPENAPI_DOCUMENT_PATH, openApiDocument } from '../src/index.ts';
import { closedAddress, type Listening, MODEL, seedWorld, serve, startGateway } from './helpers.ts';

type Json = Record<string, unknown>;
type Dialect = 'openai' | 'anthropic';

const shipped = JSON.parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8')) as Json;
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
ajv.addFormat('uri', (value: string) => URL.canParse(value));

const test = suite('the OpenAPI document');
let dereferenced: Json;
let t: TestDatabase;
let keys: DenialWorldKeys;
/** A key of the working key's owner whose expiry has passed. */
let expired: string;
const closers: (() => Promise<void>)[] = [];
const gateways: Record<'main' | 'unreachable' | 'silent', string> = { main: '', unreachable: '', silent: '' };

test.before(async () => {
  dereferenced = (await SwaggerParser.validate(structuredClone(shipped) as never)) as unknown as Json;
  t = await createTestDatabase();
  ({ keys } = await seedWorld(t.db));
  const [owner] = await t.db
    .select({ userId: apiKeys.userId })
    .from(apiKeys)
    .where(eq(apiKeys.secretHash, hashSecret(keys.working)));
  ({ secret: expired } = await createApiKey(t.db, {
    userId: owner?.userId ?? '',
    createdBy: owner?.userId ?? '',
    name: 'nightly',
    purpose: 'realtime',
    expiresAt: new Date('2026-02-03T04:05:06Z'),
  }));
  // The router refuses everything with a bare 403, for the middleware to explain.
  const router: Listening = await serve((_req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden');
  });
  // Accepts connections and never answers. Its sockets are cut at the end: one that never reads
  // never sees its peer close, and would keep the test process alive.
  const silentSockets = new Set<Socket>();
  const silent: Server = createServer((socket) => {
    silentSockets.add(socket);
    socket.once('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as { port: number }).port;
  const main = await startGateway(t.db, router.url, { maxBodyBytes: 4096 });
  const unreachable = await startGateway(t.db, `http://${await closedAddress()}`);
  const slow = await startGateway(t.db, `http://127.0.0.1:${silentPort}`, { upstreamHeadersTimeoutMs: 300 });
  Object.assign(gateways, { main: main.url, unreachable: unreachable.url, silent: slow.url });
  closers.push(main.close, unreachable.close, slow.close, router.close, async () => {
    for (const socket of silentSockets) socket.destroy();
    silent.close();
  });
});

test.after(async () => {
  for (const close of closers) await close().catch(() => {});
  await t?.close();
});

test('is valid OpenAPI 3.1 (swagger-parser validates it against the specification and resolves every $ref)', () => {
  assert.is(shipped.openapi, '3.1.0');
  assert.ok(dereferenced.paths);
});

test('the shipped openapi.json is what openApiDocument() writes (regenerate: pnpm -C packages/gateway openapi)', () => {
  assert.equal(shipped, openApiDocument(version));
});

test('describes every error code the gateway can write, in both dialects', () => {
  const schemas = (shipped.components as { schemas: Json }).schemas;
  for (const code of ERROR_CODES) {
    const name = code.replace(/(^|_)(\w)/g, (_m, _s, c: string) => c.toUpperCase());
    assert.ok(schemas[`OpenAIError_${name}`], `OpenAI ${code}`);
    assert.ok(schemas[`AnthropicError_${name}`], `Anthropic ${code}`);
  }
});

test('is served at /openapi.json, as shipped', async () => {
  const response = await fetch(`${gateways.main}/openapi.json`);
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(await response.json(), shipped);
});

test('rejects an envelope that strays from it: a wrong type, a missing extra, an unknown field', () => {
  const schema = (documented('/ai/v1/chat/completions', 'post', 402).content as Json)['application/json'] as Json;
  const good = {
    error: {
      message: 'Account balance too low. Please add credits to continue.',
      type: 'insufficient_quota',
      code: 'insufficient_credits',
      param: null,
      balance: '-50.00',
      request_id: 'r1',
    },
  };
  assert.ok(ajv.validate(schema.schema as Json, good), ajv.errorsText(ajv.errors));
  const { balance: _balance, ...withoutBalance } = good.error;
  for (const bad of [
    { error: { ...good.error, type: 'invalid_request_error' } },
    { error: withoutBalance },
    { error: { ...good.error, secret: 'x' } },
    { type: 'error', error: { ...good.error, type: 'api_error' }, request_id: null },
  ]) {
    assert.not.ok(ajv.validate(schema.schema as Json, bad), JSON.stringify(bad));
  }
  const anthropic = {
    type: 'error',
    error: { type: 'billing_error', message: 'm', code: 'insufficient_credits', balance: '0.00' },
    request_id: 'r',
  };
  assert.ok(ajv.validate(schema.schema as Json, anthropic), ajv.errorsText(ajv.errors));
});

/** The response the document gives for an operation and status, dereferenced. */
function documented(path: string, method: string, status: number): Json {
  const operation = ((dereferenced.paths as Json)[path] as Json | undefined)?.[method] as Json | undefined;
  assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
  const response = ((operation?.responses ?? {}) as Json)[String(status)] as Json | undefined;
  assert.ok(response, `${method.toUpperCase()} ${path} documents a ${status}`);
  return response as Json;
}

// Headers the gateway adds to an error that the document must name where they appear.
const ERROR_HEADERS = ['x-request-id', 'request-id', 'x-should-retry', 'retry-after', 'link'];

/** Check a live response against the document: body schema, content type, each header. */
async function assertDocumented(response: Response, path: string, method: string, label: string): Promise<Json> {
  const spec = documented(path, method, response.status);
  const text = await response.text();
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${label}: content-type`);
  const body = JSON.parse(text) as Json;
  const schema = ((spec.content as Json)['application/json'] as Json).schema as Json;
  const valid = ajv.validate(schema, body);
  assert.ok(valid, `${label}: ${text}\n${ajv.errorsText(ajv.errors?.slice(0, 5))}`);
  const headers = (spec.headers ?? {}) as Record<string, { required?: boolean; schema: Json }>;
  for (const [name, header] of Object.entries(headers)) {
    const value = response.headers.get(name);
    if (value === null) {
      assert.not.ok(header.required, `${label}: required header ${name}`);
      continue;
    }
    assert.ok(ajv.validate(header.schema, value), `${label}: header ${name}: ${value} (${ajv.errorsText(ajv.errors)})`);
  }
  for (const name of ERROR_HEADERS) {
    if (response.headers.get(name) !== null) assert.ok(headers[name], `${label}: header ${name} is documented`);
  }
  return body;
}

interface ErrorCase {
  code: string;
  dialect: Dialect;
  /** Which gateway answers: the one before a refusing router, an unreachable one, a silent one. */
  gateway?: keyof typeof gateways;
  key?: keyof DenialWorldKeys | 'unknown' | 'expired';
  /** How the key is sent. @default 'authorization' (Bearer) */
  keyHeader?: 'authorization' | 'x-api-key';
  path?: string;
  method?: string;
  body?: string;
  /** The documented operation whose responses this one's must match. */
  documentedAs?: string;
  prepare?: (db: Database) => Promise<void>;
}

const chatBody = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] });

/** The capped key's spent one-off cap becomes a daily one whose window rolled over two days ago. */
async function rollCapWindow(db: Database): Promise<void> {
  const [capped] = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(eq(apiKeys.secretHash, hashSecret(keys.capped)));
  assert.ok(capped, 'the capped key exists');
  // Only the ledger writes a checkpoint; a superuser plays a window that has rolled instead.
  await bypassLedgerGuard(
    db,
    sql`update api_keys set spend_limit_interval = 'daily' where id = ${capped?.id}`,
    sql`update api_key_spend_checkpoints set window_started_at = now() - interval '2 days' where api_key_id = ${capped?.id}`,
  );
}

// One line per case; an Anthropic case is the same line with `dialect: 'anthropic'`. The cap's two
// cases run in this order: the window rolls over for the reset-pending ones.
const MODELS_GET = { path: '/ai/v1/models', method: 'get' } as const;
const CASES: ErrorCase[] = [
  { code: 'api_key_expired', dialect: 'openai', key: 'expired' },
  { code: 'api_key_expired', dialect: 'anthropic', key: 'expired' },
  { code: 'api_key_expired', dialect: 'anthropic', key: 'expired', keyHeader: 'x-api-key' },
  { code: 'non_inference_key', dialect: 'openai', key: 'platform' },
  { code: 'non_inference_key', dialect: 'anthropic', key: 'platform' },
  { code: 'non_inference_key', dialect: 'anthropic', key: 'platform', keyHeader: 'x-api-key' },
  { code: 'model_access_denied', dialect: 'openai', key: 'outsider' },
  { code: 'model_access_denied', dialect: 'anthropic', key: 'outsider', keyHeader: 'x-api-key' },
  { code: 'model_access_denied', dialect: 'anthropic', key: 'outsider', path: '/ai/v1/responses' },
  { code: 'modality_blocked', dialect: 'openai', key: 'batch' },
  { code: 'modality_blocked', dialect: 'openai', key: 'batch', keyHeader: 'x-api-key', path: '/ai/v1/responses' },
  { code: 'modality_blocked', dialect: 'anthropic', key: 'batch', keyHeader: 'x-api-key' },
  { code: 'insufficient_credits', dialect: 'openai', key: 'broke' },
  { code: 'insufficient_credits', dialect: 'anthropic', key: 'broke', keyHeader: 'x-api-key' },
  { code: 'spend_cap_exceeded', dialect: 'openai', key: 'capped' },
  { code: 'spend_cap_exceeded', dialect: 'anthropic', key: 'capped', keyHeader: 'x-api-key' },
  { code: 'spend_cap_reset_pending', dialect: 'openai', key: 'capped', prepare: rollCapWindow },
  {
    code: 'spend_cap_reset_pending',
    dialect: 'anthropic',
    key: 'capped',
    keyHeader: 'x-api-key',
    prepare: rollCapWindow,
  },
  { code: 'request_too_large', dialect: 'openai', key: 'working', body: 'x'.repeat(8192) },
  { code: 'request_too_large', dialect: 'anthropic', key: 'working', keyHeader: 'x-api-key', body: 'x'.repeat(8192) },
  { code: 'upstream_unavailable', dialect: 'openai', key: 'working', gateway: 'unreachable' },
  {
    code: 'upstream_unavailable',
    dialect: 'anthropic',
    key: 'working',
    keyHeader: 'x-api-key',
    gateway: 'unreachable',
  },
  { code: 'upstream_timeout', dialect: 'openai', key: 'working', gateway: 'silent' },
  { code: 'upstream_timeout', dialect: 'anthropic', key: 'working', keyHeader: 'x-api-key', gateway: 'silent' },
  { code: 'not_found', dialect: 'openai', path: '/ai/v1/%2e%2e/admin', documentedAs: '/ai/v1/chat/completions' },
  { code: 'not_found', dialect: 'anthropic', path: '/ai/v1/%2e%2e/admin', documentedAs: '/ai/v1/messages' },
  { code: 'missing_authorization', dialect: 'openai', ...MODELS_GET },
  { code: 'missing_authorization', dialect: 'anthropic', ...MODELS_GET },
  { code: 'invalid_api_key', dialect: 'openai', key: 'unknown', ...MODELS_GET },
  { code: 'invalid_api_key', dialect: 'openai', key: 'platform', ...MODELS_GET },
  { code: 'invalid_api_key', dialect: 'anthropic', key: 'unknown', ...MODELS_GET },
  { code: 'invalid_api_key', dialect: 'anthropic', key: 'unknown', keyHeader: 'x-api-key', ...MODELS_GET },
  { code: 'invalid_api_key', dialect: 'anthropic', key: 'platform', keyHeader: 'x-api-key', ...MODELS_GET },
  { code: 'api_key_expired', dialect: 'openai', key: 'expired', ...MODELS_GET },
  { code: 'api_key_expired', dialect: 'anthropic', key: 'expired', keyHeader: 'x-api-key', ...MODELS_GET },
  {
    code: 'invalid_query_parameter',
    dialect: 'openai',
    key: 'working',
    path: '/ai/v1/models?available_for_realtime=maybe',
    method: 'get',
  },
  {
    code: 'invalid_query_parameter',
    dialect: 'anthropic',
    key: 'working',
    keyHeader: 'x-api-key',
    path: '/ai/v1/models?available_for_realtime=maybe',
    method: 'get',
  },
];

for (const c of CASES) {
  const method = c.method ?? 'post';
  const path = c.path ?? (c.dialect === 'anthropic' ? '/ai/v1/messages' : '/ai/v1/chat/completions');
  const via = c.keyHeader === 'x-api-key' ? ', key in x-api-key' : '';
  test(`${c.dialect} ${c.code} (${method.toUpperCase()} ${path}${via}) validates against the document`, async () => {
    await c.prepare?.(t.db);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const secret = c.key === 'unknown' ? 'sk-unknown-0000' : c.key === 'expired' ? expired : c.key && keys[c.key];
    if (secret && c.keyHeader === 'x-api-key') headers['x-api-key'] = secret;
    else if (secret) headers.authorization = `Bearer ${secret}`;
    if (c.dialect === 'anthropic') headers['anthropic-version'] = '2023-06-01';
    const response = await fetch(`${gateways[c.gateway ?? 'main']}${path}`, {
      method: method.toUpperCase(),
      headers,
      ...(method === 'post' && { body: c.body ?? chatBody }),
    });
    const documentedPath = c.documentedAs ?? path.split('?')[0] ?? path;
    const body = await assertDocumented(response, documentedPath, method, c.code);
    const error = body.error as Json;
    assert.is(error.code, c.code, JSON.stringify(body));
    assert.is(body.type === 'error', c.dialect === 'anthropic', `${c.code}: the ${c.dialect} envelope`);
  });
}

for (const dialect of ['openai', 'anthropic'] as const) {
  test(`a model list validates against the document (${dialect} shape), each entry with its availability`, async () => {
    const spec = documented('/ai/v1/models', 'get', 200);
    const schema = ((spec.content as Json)['application/json'] as Json).schema as Json;
    const shape = (dereferenced.components as { schemas: Json }).schemas as Json;
    const own = shape[dialect === 'openai' ? 'OpenAIModelList' : 'AnthropicModelList'] as Json;
    // Available to one key, denied (with the denial's code and message) to another.
    for (const key of [keys.working, keys.broke, keys.batch]) {
      const response = await fetch(`${gateways.main}/ai/v1/models`, {
        headers: { 'x-api-key': key, ...(dialect === 'anthropic' && { 'anthropic-version': '2023-06-01' }) },
      });
      assert.is(response.status, 200);
      const body = (await response.json()) as { data: { availability?: { status: string } }[] };
      assert.ok(ajv.validate(schema, body), ajv.errorsText(ajv.errors));
      assert.ok(ajv.validate(own, body), `${dialect}: ${ajv.errorsText(ajv.errors)}`);
      assert.ok(body.data.length > 0 && body.data.every((entry) => entry.availability), JSON.stringify(body));
    }
  });
}

test.run();
