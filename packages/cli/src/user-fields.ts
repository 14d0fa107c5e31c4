import { CliError } from './cli-error.ts';

/** The username rule, as `--help` and the README state it. */
export const USERNAME_RULE = '1 to 64 characters: ASCII letters, digits and . _ - @, starting with a letter or digit';

/** The email rule, as `--help` and the README state it. */
export const EMAIL_RULE =
  'name@domain: at most 254 characters, 1 to 64 before the @ with no spaces, a domain of dot-separated letters, digits and hyphens with at least one dot';

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL = new RegExp(`^[^\\s@]{1,64}@${LABEL}(?:\\.${LABEL})+$`);
const MAX_EMAIL = 254;
const MAX_DISPLAY_NAME = 255;

/*
 * These rules apply to what the tool writes. Rows written before them (or by dwctl, whose system
 * user's email is `system@internal`) are still found, shown and updated field by field.
 */

export function checkUsername(username: string): string {
  if (!USERNAME.test(username)) throw new CliError(`bad username ${JSON.stringify(username)}: ${USERNAME_RULE}`);
  return username;
}

/** An email, or `''` for none (the column is required, as in dwctl). */
export function checkEmail(email: string): string {
  if (email === '') return email;
  if (email.length > MAX_EMAIL || !EMAIL.test(email)) {
    throw new CliError(`bad --email ${JSON.stringify(email)}: ${EMAIL_RULE}`);
  }
  return email;
}

export function checkDisplayName(name: string): string {
  if (name.length > MAX_DISPLAY_NAME || /\p{Cc}/u.test(name)) {
    throw new CliError(`bad --display-name: at most ${MAX_DISPLAY_NAME} characters, no control characters`);
  }
  return name;
}
