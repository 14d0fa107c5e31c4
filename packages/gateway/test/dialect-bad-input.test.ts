/*
 * Bad input on the Anthropic and Responses routes, with the key in `Authorization` or `x-api-key`:
 * never a 5xx from the gateway, and nothing that tells whether a key exists. Run against a router
 * stand-in that refuses everything (so every answer is the gateway's doing) and against the stub.
 */
import { deleteApiKey, hashSecret, rowsOf } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createStubUpstream } from '../src/index.ts';
import { refusingRouter, seedDialectWorld } from './dialect-world.ts';
import { MODEL, type RawResponse, send, serve, startGateway } from './helpers.ts';

const test = suite('bad input on the dialect routes');

const LIMIT = 64 * 1024;
const t = await createTestDatabase();
const { keys } = await seedDialectWorld(t.db);
// A key that existed: revoked, it must read exactly like one that never did.
const [revoked] = rowsOf<{ id: string }>(
  await t.db.execute(sql`select id from api_keys where secret_hash = ${hashSecret(keys.pending)}`),
);
if (revoked) await deleteApiKey(t.db, revoked.id);
const router = await refusingRouter();
const stub = await serve(createStubUpstream({ db: t.db, chunkDelayMs: 1 }));
const fronts = {
  refusing: await startGateway(t.db, router.url, { maxBodyBytes: LIMIT }),
  stub: await startGateway(t.db, stub.url, { maxBodyBytes: LIMIT }),
};

test.after(async () => {
  await fronts.refusing?.close();
  await fronts.stub?.close();
  await router?.close();
  await stub?.close();
  await t?.close();
});

const ROUTES = {
  messages: (model: unknown) => JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }),
  responses: (model: unknown) => JSON.stringify({ model, input: 'Hi' }),
} as const;

interface Case {
  name: string;
  headers: Record<string, string>;
  body: string;
}

function cases(body: (model: unknown) => string): Case[] {
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const xApiKey = (key: string) => ({ 'x-api-key': key });
  const both = [bearer, xApiKey].flatMap((via) => [
    { name: `malformed JSON, ${via.name}`, headers: via(keys.broke), body: '{"model":' },
    { name: `no model, ${via.name}`, headers: via(keys.broke), body: '{"messages":[]}' },
    { name: `a numeric model, ${via.name}`, headers: via(keys.outsider), body: body(7) },
    { name: `an object model, ${via.name}`, headers: via(keys.outsider), body: body({ id: MODEL }) },
    { name: `a body over the limit, ${via.name}`, headers: via(keys.broke), body: body('m'.repeat(LIMIT)) },
  ]);
  return [
    ...both,
    { name: 'an empty x-api-key', headers: { 'x-api-key': '' }, body: body(MODEL) },
    { name: 'an x-api-key of spaces', headers: { 'x-api-key': '   ' }, body: body(MODEL) },
    {
      name: 'a denied key in authorization, a working one in x-api-key',
      headers: { ...bearer(keys.outsider), ...xApiKey(keys.working) },
      body: body(MODEL),
    },
    {
      name: 'an unknown key in authorization, a broke one in x-api-key',
      headers: { ...bearer('sk-unknown'), ...xApiKey(keys.broke) },
      body: body(MODEL),
    },
    {
      name: 'a Basic authorization, a broke key in x-api-key',
      headers: { authorization: 'Basic dTpw', ...xApiKey(keys.broke) },
      body: body(MODEL),
    },
  ];
}

/** Keys that never existed or no longer do, in each header. */
const ABSENT_KEYS = (body: string): Case[] =>
  ['sk-unknown', "' or 1=1 --", keys.pending].flatMap((key, i): Case[] => [
    { name: `absent key ${i} in authorization`, headers: { authorization: `Bearer ${key}` }, body },
    { name: `absent key ${i} in x-api-key`, headers: { 'x-api-key': key }, body },
  ]);

const SECRETS = Object.values(keys).flatMap((k) => [k, hashSecret(k)]);

function sendCase(url: string, route: string, c: Case): Promise<RawResponse> {
  return send(`${url}/ai/v1/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...c.headers },
    body: c.body,
  });
}

/** The body with the per-request id taken out, for comparing two answers. */
const withoutRequestId = (response: RawResponse) =>
  response.body.toString().replace(/"request_id":"[^"]*"/g, '"request_id":…');

for (const [upstream, front] of Object.entries(fronts)) {
  for (const [route, body] of Object.entries(ROUTES)) {
    test(`answers bad input on /ai/v1/${route} below 500, leaking no key (${upstream} upstream)`, async () => {
      router.refuseAll();
      for (const c of cases(body)) {
        const response = await sendCase(front.url, route, c);
        const label = `${route}, ${c.name}`;
        assert.ok(response.status < 500, `${label}: ${response.status}`);
        const text = response.body.toString();
        for (const secret of SECRETS) assert.not.ok(text.includes(secret), `${label}: a key in the body`);
        if (c.name.startsWith('a body over the limit')) {
          assert.is(response.status, 413, label);
          const error = JSON.parse(text);
          assert.is(route === 'messages' ? error.error.type : error.error.code, 'request_too_large', label);
        }
        // Whose key counts is decided once: Authorization, whenever it is present.
        if (c.name.startsWith('an unknown key in authorization') || c.name.startsWith('a Basic')) {
          assert.not.match(text, /balance|credits/, label);
        }
        if (upstream === 'refusing' && c.name.startsWith('a denied key in authorization')) {
          assert.match(text, /model_access_denied/, label);
        }
      }
    });

    test(`answers an absent key the same in either header, whether it never existed or was revoked (${upstream} upstream)`, async () => {
      router.refuseAll();
      const answers = new Set<string>();
      for (const c of ABSENT_KEYS(body(MODEL))) {
        const response = await sendCase(front.url, route, c);
        assert.ok(response.status < 500, `${c.name}: ${response.status}`);
        answers.add(`${response.status} ${withoutRequestId(response)}`);
      }
      // The stub answers a key only in x-api-key as having none (onwards reads the bearer only).
      assert.ok(answers.size <= (upstream === 'stub' ? 2 : 1), [...answers].join('\n'));
    });
  }
}

test.run();
