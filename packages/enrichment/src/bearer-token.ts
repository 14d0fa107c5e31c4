/**
 * The token of a `Bearer` Authorization header, trimmed, or null. The scheme is matched
 * case-insensitively (RFC 9110 §11.1) and may be followed by any run of spaces or tabs.
 */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^[ \t]*bearer[ \t]+(.*)$/is.exec(header);
  const token = match?.[1]?.trim();
  return token ? token : null;
}
