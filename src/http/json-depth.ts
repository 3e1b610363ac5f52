/**
 * Deepest `[`/`{` nesting a request body may have. A Kazoo document needs fewer than 10 levels; the
 * bound keeps every recursive walk of request data (structuredClone, PATCH merge, schema checks,
 * JSON.stringify on the way to disk) far from the stack limit, and spares JSON.parse deep inputs, which
 * it parses about 10x slower per byte than flat ones.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Most members and elements a request body may have in all. A Kazoo document has a few hundred; every later step
 * (JSON.parse, schema checks, clone, merge, the write to disk) costs per member, and 50,000 keys in 1 MiB held
 * the event loop for ~200 ms on a busy two-core machine.
 */
export const MAX_JSON_MEMBERS = 10_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Why JSON text is too big in shape, before anything parses it: 'depth' when brackets nest deeper than
 * `maxDepth`, 'members' when it has more than `maxMembers` object members and array elements (an object member
 * is counted at its colon, an array element at the comma after it, so each array counts one short). One pass,
 * no recursion, brackets inside strings ignored; it stops at the first excess. It does not check the syntax:
 * JSON.parse does that afterwards, on text this scan has bounded.
 */
export function jsonShapeProblem(text: string, maxDepth: number = MAX_JSON_DEPTH, maxMembers: number = MAX_JSON_MEMBERS): 'depth' | 'members' | undefined {
  // Which kind of bracket is open at each depth; depth never passes maxDepth + 1 here.
  const inArray: boolean[] = [false];
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return 'depth';
      inArray[depth] = c === OPEN_ARRAY;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    else if ((c === COLON || (c === COMMA && inArray[depth])) && ++members > maxMembers) return 'members';
  }
  return undefined;
}

/** True when JSON text nests brackets deeper than `limit` (jsonShapeProblem without a member bound). */
export function jsonNestingExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  return jsonShapeProblem(text, limit, Infinity) === 'depth';
}
