import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Context, Middleware } from 'koa';

/** The OpenAPI 3.1 document shipped with the package (`@control-layer/gateway/openapi.json`), from `openApiDocument()`. */
export const OPENAPI_DOCUMENT_PATH = fileURLToPath(new URL('../openapi.json', import.meta.url));

/** Where the gateway serves it. */
export const OPENAPI_ROUTE = '/openapi.json';

/**
 * `GET /openapi.json`: the shipped OpenAPI document, read from the package once, on first ask
 * (a gateway nobody asks never reads it).
 */
export function openApiRoute(path: string = OPENAPI_DOCUMENT_PATH): Middleware {
  let document: Promise<Buffer> | undefined;
  return async function openApiRoute(ctx: Context): Promise<void> {
    document ??= readFile(path);
    ctx.body = await document;
    ctx.type = 'application/json';
  };
}
