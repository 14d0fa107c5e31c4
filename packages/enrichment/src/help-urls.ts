import { DENIAL_CODES, type DenialCode } from './error-codes.ts';

/** A page per denial code that tells the caller how to fix it (a billing page, an access form). */
export type HelpUrls = Partial<Record<DenialCode, string>>;

/** A help URL map that cannot be used; the message names the entry at fault. */
export class HelpUrlError extends TypeError {
  override readonly name = 'HelpUrlError';
}

// CR and LF would split the `link` header; any other control character has no place in a URL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

function isDenialCode(value: string): value is DenialCode {
  return (DENIAL_CODES as readonly string[]).includes(value);
}

/**
 * Check a code → URL map once, at start-up, and return it frozen with each URL in its serialised
 * form (WHATWG URL), which percent-encodes `<`, `>`, `"` and spaces, so it is safe inside
 * `link: <…>`. `source` names the option or variable in messages.
 *
 * @example
 * const helpUrls = parseHelpUrls({ insufficient_credits: 'https://example.com/billing' });
 */
export function parseHelpUrls(map: unknown, source = 'helpUrls'): Readonly<HelpUrls> {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new HelpUrlError(`${source} must be an object mapping error codes to URLs`);
  }
  const parsed: HelpUrls = {};
  for (const [code, raw] of Object.entries(map)) {
    if (!isDenialCode(code)) {
      throw new HelpUrlError(
        `${source}: ${JSON.stringify(code)} is not an error code that enrichment explains (one of ${DENIAL_CODES.join(', ')})`,
      );
    }
    if (typeof raw !== 'string') throw new HelpUrlError(`${source}.${code} must be a string URL`);
    if (CONTROL_CHARACTERS.test(raw)) {
      throw new HelpUrlError(`${source}.${code} contains a control character (CR, LF or another)`);
    }
    if (!URL.canParse(raw)) {
      throw new HelpUrlError(`${source}.${code} must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
    }
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HelpUrlError(`${source}.${code} must use http or https, got ${url.protocol}`);
    }
    // The link is shown to every caller that is denied: a password in it would be published.
    if (url.username || url.password) throw new HelpUrlError(`${source}.${code} must not carry credentials`);
    parsed[code] = url.href;
  }
  return Object.freeze(parsed);
}
