/**
 * `Authorization` / `WWW-Authenticate` values (RFC 3261 §25.1 / RFC 2617 / RFC 7616): `Digest a=b, c="d\"e"`,
 * for SIP and for the phones' HTTP requests alike.
 *
 * A single left-to-right pass over the value, each character looked at a bounded number of times: the value
 * comes from an unauthenticated (and, over UDP, spoofable) request, and the regexes this replaces went
 * quadratic on a long run of word characters without `=` (64 KB held the event loop for 4 s). Lenient like
 * the regexes were: a parameter it cannot read (no `=`, empty value, junk) is skipped up to the next comma,
 * never an error. An unterminated quoted string ends the parse (its param is dropped); of repeated names the
 * last one counts.
 */
export interface AuthHeader {
  scheme: string;
  /** Lower-cased names; quoted values unquoted and unescaped. Null prototype: names come from the wire. */
  params: Record<string, string>;
}

/**
 * Longest Authorization value read (SIP and HTTP). A real digest answer is ~300 bytes (long nonces and
 * URIs stay well under 1 KB); anything past this is refused before it is parsed.
 */
export const MAX_AUTHORIZATION_LENGTH = 4096;

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
/** `[A-Za-z0-9_-]`, the characters the old regex accepted in scheme and parameter names. */
const isNameChar = (c: number) =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const EQUALS = 0x3d;

export function parseAuthHeader(raw: string): AuthHeader | undefined {
  const value = raw.trim();
  let i = 0;
  while (i < value.length && isNameChar(value.charCodeAt(i))) i++;
  const scheme = value.slice(0, i);
  if (!scheme || i >= value.length || !isSpace(value.charCodeAt(i))) return undefined;
  return { scheme, params: readParams(value, i) };
}

/** The params alone (`a="b", c=d`, what follows the scheme), lower-cased names, null prototype. */
export function parseAuthParams(value: string): Record<string, string> {
  return readParams(value, 0);
}

function readParams(value: string, from: number): Record<string, string> {
  const n = value.length;
  let i = from;
  const skipSpaces = () => {
    while (i < n && isSpace(value.charCodeAt(i))) i++;
  };
  const readName = (): string => {
    const start = i;
    while (i < n && isNameChar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  /** Past the next comma that is not inside a quoted string (or to the end). */
  const skipItem = () => {
    let quoted = false;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (quoted && c === BACKSLASH) i++;
      else if (c === QUOTE) quoted = !quoted;
      else if (!quoted && c === COMMA) {
        i++;
        return;
      }
    }
  };
  /** At an opening quote: the unescaped content, or undefined when the closing quote is missing. */
  const readQuoted = (): string | undefined => {
    i++;
    let out = '';
    let segment = i;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === QUOTE) {
        out += value.slice(segment, i);
        i++;
        return out;
      }
      if (c === BACKSLASH && i + 1 < n) {
        out += value.slice(segment, i);
        i++;
        segment = i; // the escaped character is kept as is
      }
    }
    return undefined;
  };

  const params: Record<string, string> = Object.create(null);
  while (i < n) {
    skipSpaces();
    const c = value.charCodeAt(i);
    if (c === COMMA) {
      i++;
      continue;
    }
    if (i >= n) break;
    const name = readName();
    skipSpaces();
    if (!name || value.charCodeAt(i) !== EQUALS) {
      skipItem();
      continue;
    }
    i++;
    skipSpaces();
    let parsed: string | undefined;
    if (value.charCodeAt(i) === QUOTE) {
      parsed = readQuoted();
      if (parsed === undefined) break; // unterminated: the rest of the value is inside it
    } else {
      const start = i;
      while (i < n && !isSpace(value.charCodeAt(i)) && value.charCodeAt(i) !== COMMA) i++;
      if (i > start) parsed = value.slice(start, i);
    }
    if (parsed === undefined) {
      skipItem();
      continue;
    }
    params[name.toLowerCase()] = parsed;
  }
  return params;
}
