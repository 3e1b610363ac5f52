/**
 * The From of a quick call, built the same way by both SIP backends (embedded and drachtio). The caller id
 * comes from the API caller (`cid-name`, `cid-number`), so nothing of it may break out of its header: a CR/LF
 * would add headers, a quote or angle bracket would end the display name or the URI early.
 */

/** The longest display name kept, in characters (code points, so a pair of surrogates is never split). */
export const MAX_DISPLAY_NAME = 64;
/** The longest caller-id number kept. */
export const MAX_CALLER_NUMBER = 64;

/** Characters a dialled or caller-id number may have (digits, letters, * # + . _ ~ -). */
export const DIALABLE_CHARS = 'A-Za-z0-9*#+._~-';

// What cannot stand in a SIP quoted-string as-is (RFC 3261 §25.1 qdtext): quote, backslash, controls
// (\p{Cc}: C0 with CR/LF/TAB, DEL, C1) and line separators; angle brackets are dropped too, so no reader
// mistakes the name for the URI.
const NOT_IN_DISPLAY_NAME = /["\\<>\p{Cc}\u2028\u2029]/gu;
const NOT_DIALABLE = new RegExp(`[^${DIALABLE_CHARS}]`, 'g');

/** A caller-chosen name made safe inside the From's quotes. */
export function displayName(raw: string): string {
  return Array.from(raw.replace(NOT_IN_DISPLAY_NAME, '')).slice(0, MAX_DISPLAY_NAME).join('');
}

/** A number as the user part of a SIP URI: percent-encoded where RFC 3261 §25.1 `user` does not allow a character (`#`). */
export function sipUser(number: string): string {
  return number.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * `"<name>" <sip:<caller number>@<realm>>`, without a tag (the backend adds its own). A caller number with
 * nothing dialable in it falls back to the number being called, as Kazoo shows the dialled number.
 */
export function quickCallFrom(callerIdName: string, callerIdNumber: string, number: string, realm: string): string {
  const callerNumber = callerIdNumber.replace(NOT_DIALABLE, '').slice(0, MAX_CALLER_NUMBER) || number;
  return `"${displayName(callerIdName)}" <sip:${sipUser(callerNumber)}@${realm}>`;
}
