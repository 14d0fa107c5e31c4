// Characters without which no parser can move a path: dot segments need `.` (or `%2e`), and
// WHATWG reads `\` as `/` in http(s) URLs. A path with none of them is inside as it stands.
const MAY_MOVE = /[.%\\]/;
const PERCENT_BYTE = /%([0-9a-f]{2})/gi;
// Kept encoded after decoding, so that the decoded text is still all path.
const PATH_ENDS = /[?#]/g;

/**
 * Whether `target` (a request target: path and query), sent to the upstream at `origin`, resolves
 * inside `root` (say `/v1`) for a server that parses it as a WHATWG URL (Node's `new URL`, Hono,
 * Deno, Bun): `\` is a `/`, `%2e` a `.`, and dot segments are removed. It must also resolve inside
 * after one round of percent-decoding, for a server that decodes the path before it resolves it
 * (`..%2fadmin`, `..%5cadmin`). An encoded slash the parser leaves encoded does not move the path,
 * so a path such as `/v1/models/org%2Fname` stays inside and is sent unchanged.
 *
 * @example
 * isInsideUpstreamRoot('http://router:3001', '/v1', '/v1/..%2fadmin'); // false
 */
export function isInsideUpstreamRoot(origin: string, root: string, target: string): boolean {
  const queryAt = target.search(PATH_ENDS);
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  if (!MAY_MOVE.test(path)) return path === root || path.startsWith(`${root}/`);
  if (!resolvesInside(origin, root, path)) return false;
  if (!path.includes('%')) return true;
  const decoded = path.replace(PERCENT_BYTE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return resolvesInside(origin, root, decoded.replace(PATH_ENDS, encodeURIComponent));
}

function resolvesInside(origin: string, root: string, path: string): boolean {
  let url: URL;
  try {
    url = new URL(path, origin);
  } catch {
    return false;
  }
  return url.origin === origin && (url.pathname === root || url.pathname.startsWith(`${root}/`));
}
