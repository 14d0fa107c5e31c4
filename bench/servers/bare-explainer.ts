/**
 * The floor of explaining a 403 on Node: the bare proxy of bare-proxy.ts (the same parts), plus, when the upstream
 * answers 403 to a request with a bearer key, what any diagnosis must do: the key's SHA-256, the
 * request's `model` from its JSON body, the diagnosis statement through a node-postgres pool (the
 * same text and pool size as the gateway's), the row's JSON, and a JSON error body. Nothing else:
 * no Koa, no deadline, no validation, no dialects, no metrics, and the checks reduced to plain
 * comparisons (numbers, not decimals). Only a reference for what Node, undici and node-postgres
 * cost per explained response; it is not part of the product.
 * Usage: UPSTREAM_URL=http://… DATABASE_URL=postgres://… bare-explainer.ts
 */
import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INFERENCE_PURPOSES } from '@control-layer/db';
import pg from 'pg';
import { Pool } from 'undici';
import { passOn, upstreamHeaders } from './bare-parts.ts';

const upstreamUrl = process.env.UPSTREAM_URL;
const databaseUrl = process.env.DATABASE_URL;
if (!upstreamUrl || !databaseUrl) {
  console.error('usage: UPSTREAM_URL=http://… DATABASE_URL=postgres://… bare-explainer.ts');
  process.exit(2);
}
const pool = new Pool(upstreamUrl, { connections: 256 });
const database = new pg.Pool({ connectionString: databaseUrl, max: 10 });
database.on('error', () => {});
const STATEMENT = {
  text: 'select row_to_json(f)::text as facts from explain_denial($1::text, $2::text, $3::text) f',
};

interface Row {
  purpose: string;
  user_id: string;
  has_access: boolean | null;
  denied_purpose: string | null;
  balance: string;
  balance_exempt: boolean;
  model_free: boolean | null;
  spend_limit: string | null;
  window_spend: string;
  window_current: boolean;
}

/** The first of the usual checks that holds, as a status and code; null: nothing to explain. */
function reasonOf(row: Row): [number, string] | null {
  if (row.user_id !== '00000000-0000-0000-0000-000000000000' && !INFERENCE_PURPOSES.includes(row.purpose))
    return [403, 'non_inference_key'];
  if (row.has_access === false) return [403, 'model_access_denied'];
  if (row.denied_purpose !== null) return [403, 'modality_blocked'];
  if (!row.balance_exempt && row.model_free === false && Number(row.balance) <= 0) return [402, 'insufficient_credits'];
  if (row.spend_limit !== null && row.window_current && Number(row.window_spend) >= Number(row.spend_limit))
    return [402, 'spend_cap_exceeded'];
  return null;
}

function answer(res: ServerResponse, status: number, code: string): void {
  const body = JSON.stringify({ error: { message: `denied: ${code}`, type: 'invalid_request_error', code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const headers = upstreamHeaders(req.headers);
    const body = Buffer.concat(chunks);
    pool
      .request({ path: (req.url ?? '/').replace(/^\/ai/, ''), method: req.method as 'POST', headers, body })
      .then(async (upstream) => {
        const authorization = req.headers.authorization;
        if (upstream.statusCode !== 403 || !authorization?.startsWith('Bearer ')) return passOn(res, upstream);
        const original = Buffer.from(await upstream.body.arrayBuffer());
        const hash = createHash('sha256').update(authorization.slice(7)).digest('hex');
        const model = (JSON.parse(body.toString()) as { model?: unknown }).model;
        const result = await database.query(STATEMENT, [hash, typeof model === 'string' ? model : null, null]);
        const found = (result.rows[0] as { facts: string } | undefined)?.facts;
        const reason = found ? reasonOf(JSON.parse(found) as Row) : null;
        if (reason) return answer(res, reason[0], reason[1]);
        res.writeHead(403, { 'content-type': upstream.headers['content-type'] ?? 'text/plain' });
        res.end(original);
      })
      .catch(() => res.writeHead(502).end());
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
// A normal exit, so that --cpu-prof writes its profile.
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void Promise.all([pool.destroy(), database.end()]).finally(() => process.exit(0));
});
