/**
 * Writes openapi.json from openApiDocument(): run after changing an error code, a route or an
 * envelope (`pnpm -C packages/gateway openapi`); a test fails while the file is stale.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { openApiDocument } from '../packages/gateway/src/openapi-document.ts';
import { OPENAPI_DOCUMENT_PATH } from '../packages/gateway/src/openapi-route.ts';

const { version } = JSON.parse(readFileSync(new URL('../packages/gateway/package.json', import.meta.url), 'utf8')) as {
  version: string;
};
writeFileSync(OPENAPI_DOCUMENT_PATH, `${JSON.stringify(openApiDocument(version), null, 2)}\n`);
// Laid out as `pnpm lint` wants it; the test compares the parsed document, not the bytes.
execFileSync(new URL('../node_modules/.bin/biome', import.meta.url).pathname, [
  'format',
  '--write',
  OPENAPI_DOCUMENT_PATH,
]);
console.log(`wrote ${OPENAPI_DOCUMENT_PATH}`);
