import type { ServerResponse } from 'node:http';
import { type Database, hashSecret, recordUsage, rowsOf, setApiKeySpendCap } from '@control-layer/db';
import { createTestApiKey, shiftSpendBack } from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { MODEL, type RecordedRequest, scriptedUpstream, seedWorld } from './helpers.ts';

/** A denial of the world below: the key that meets it, and what each dialect calls it. */
export interface DenialCase {
  name: string;
  key: string;
  status: number;
  code: string;
  /** Anthropic's `error.type` for the status. */
  anthropicType: string;
  /** The message, the same in both dialects. */
  message: RegExp;
}

/**
 * `seedWorld`'s keys, plus `pending`: a key of the member whose daily cap was spent in a window
 * that has since rolled over, while the router still holds the old key set. Every denial error
 * enrichment explains, one key each.
 */
export async function seedDialectWorld(db: Database) {
  const { keys } = await seedWorld(db);
  const [owner] = rowsOf<{ user_id: string }>(
    await db.execute(sql`select user_id from api_keys where secret_hash = ${hashSecret(keys.working)}`),
  );
  if (!owner) throw new Error('seedWorld made no working key');
  const pending = await createTestApiKey(db, owner.user_id, 'realtime');
  await setApiKeySpendCap(db, pending.key.id, { limit: new Decimal(1), interval: 'daily' });
  await recordUsage(db, { apiKeyId: pending.key.id, amount: new Decimal(2), sourceId: `pending-${pending.key.id}` });
  await shiftSpendBack(db, pending.key.id, '1 day');
  const all = { ...keys, pending: pending.secret };
  const denials: DenialCase[] = [
    {
      name: 'a platform key',
      key: all.platform,
      status: 403,
      code: 'non_inference_key',
      anthropicType: 'permission_error',
      message: /^API keys with purpose 'platform' cannot be used for inference requests\.$/,
    },
    {
      name: 'no access to the model',
      key: all.outsider,
      status: 403,
      code: 'model_access_denied',
      anthropicType: 'permission_error',
      message: new RegExp(`^You do not have access to '${MODEL}'\\.`),
    },
    {
      name: "a deny rule on the key's purpose",
      key: all.batch,
      status: 403,
      code: 'modality_blocked',
      anthropicType: 'permission_error',
      message: new RegExp(`^Batch access to '${MODEL}' is blocked by a routing rule\\.`),
    },
    {
      name: 'an empty balance',
      key: all.broke,
      status: 402,
      code: 'insufficient_credits',
      anthropicType: 'billing_error',
      message: /^Account balance too low\. Please add credits to continue\.$/,
    },
    {
      name: 'a spent cap',
      key: all.capped,
      status: 402,
      code: 'spend_cap_exceeded',
      anthropicType: 'billing_error',
      message: /^API key has reached its spending cap of \$1\.00/,
    },
  ];
  const resetPending: DenialCase = {
    name: 'a cap window that has just reset',
    key: all.pending,
    status: 429,
    code: 'spend_cap_reset_pending',
    anthropicType: 'rate_limit_error',
    message: /^Spending cap window has reset; the key is being reinstated\. Retry shortly\.$/,
  };
  return { keys: all, denials, resetPending };
}

/** What the router stand-in answers an admitted request with, by the path it was sent to. */
function admittedAnswer(req: RecordedRequest): object {
  const model = (JSON.parse(req.body.toString() || '{}') as { model?: string }).model ?? MODEL;
  if (req.url.endsWith('/messages')) {
    return {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: 'readmitted' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    };
  }
  return {
    id: 'resp_1',
    object: 'response',
    created_at: 0,
    status: 'completed',
    model,
    output: [
      {
        type: 'message',
        id: 'msg_1',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'readmitted', annotations: [] }],
      },
    ],
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
  };
}

/**
 * A router stand-in that refuses every key with onwards' bare 403 (JSON, also to a streaming
 * request, as onwards refuses before any stream) until `admitAfter` requests have been refused;
 * it records every request, so a test counts what reached it (one per request of the gateway).
 */
export async function refusingRouter() {
  const upstream = await scriptedUpstream();
  let admitAfter = Number.POSITIVE_INFINITY;
  let refused = 0;
  upstream.respondWith((req: RecordedRequest, res: ServerResponse) => {
    if (refused >= admitAfter) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(admittedAnswer(req)));
      return;
    }
    refused++;
    res.writeHead(403, { 'content-type': 'application/json' }).end(FORBIDDEN_BODY);
  });
  return {
    ...upstream,
    /** Refuse `count` more requests, then admit every one. */
    admitAfter(count: number) {
      refused = 0;
      admitAfter = count;
    },
    /** Refuse every request again. */
    refuseAll() {
      admitAfter = Number.POSITIVE_INFINITY;
    },
  };
}
