/**
 * Deepest `[`/`{` nesting a request body may have. A Kazoo document needs fewer than 10 levels; the
 * bound keeps every recursive walk of request data (structuredClone, PATCH merge, schema checks,
 * JSON.stringify on the way to disk) far from the stack limit, and spares JSON.parse deep inputs, which
 * it parses about 10x slower per byte than flat ones.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * True when JSON text nests brackets deeper than `limit`. One pass, no recursion, brackets inside strings
 * ignored; it stops at the first bracket over the limit. It does not check the syntax: JSON.parse does that
 * afterwards, on text this scan has bounded.
 */
export function jsonNestingExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}
