/** A header map as Node's server and undici hand them out: lower-case names. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1), so a proxy must not
 * pass them on; `proxy-*` names are matched by prefix. `http2-settings` belongs to an h2c upgrade.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** The header names a `Connection` header lists, which are hop-by-hop for this message only. */
export function connectionTokens(connection: string | string[] | undefined): Set<string> {
  const values = Array.isArray(connection) ? connection : connection === undefined ? [] : [connection];
  const tokens = new Set<string>();
  for (const value of values) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

const NONE: ReadonlySet<string> = new Set();

/** `isHopByHop` for a name already in lower case. */
function isHopByHopLower(lower: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP_HEADERS.has(lower) || lower.startsWith('proxy-') || (listed.size > 0 && listed.has(lower));
}

export function isHopByHop(name: string, listed: ReadonlySet<string> = NONE): boolean {
  return isHopByHopLower(name.toLowerCase(), listed);
}

/**
 * The end-to-end headers of a message (names in lower case, as Node's server and undici hand
 * them out): everything but the hop-by-hop ones, those named in its `Connection` header, and any
 * in `drop` (lower-case). It runs twice per proxied exchange, so it allocates nothing beyond the
 * result when the message has no `Connection` header.
 */
export function endToEndHeaders(
  headers: HeaderMap,
  drop: ReadonlySet<string> = NONE,
): Record<string, string | string[]> {
  const connection = headers.connection;
  // `keep-alive` and `close` name no other header: the usual case costs no set.
  const listed =
    connection === undefined || connection === 'keep-alive' || connection === 'close'
      ? NONE
      : connectionTokens(connection);
  const kept: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHopByHopLower(name, listed) || drop.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}
