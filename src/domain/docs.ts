import type { StoredDoc } from './types.js';

const isPrivateKey = (key: string) => key.startsWith('_') || key.startsWith('pvt_');
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the API shows of a stored document: public fields plus `id`, private bookkeeping removed. */
export function publicView(doc: StoredDoc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) if (!isPrivateKey(key)) out[key] = value;
  return out;
}

/**
 * Request data as Kazoo takes it: private keys (`_rev`, `pvt_*`, `_read_only` echoes) and the `id` are
 * dropped — a client can never set them through the body. Returns a deep copy.
 */
export function requestFields(data: unknown): Record<string, unknown> {
  if (!isPlainObject(data)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!isPrivateKey(key) && key !== 'id') out[key] = structuredClone(value);
  }
  return out;
}

/** Private fields of a stored document (kept across POST/PATCH, as Kazoo's load_merge does). */
export function privateFields<T extends StoredDoc>(doc: T): Pick<T, keyof T> {
  const out: Record<string, unknown> = { id: doc.id };
  for (const [key, value] of Object.entries(doc)) if (isPrivateKey(key)) out[key] = value;
  return out as Pick<T, keyof T>;
}

/**
 * PATCH semantics (crossbar_doc:patch_the_doc): request wins per key, objects merge recursively,
 * `null` deletes the key, arrays are replaced wholesale. Returns a new object. The recursion (and the
 * structuredClone copies) go as deep as the request's nesting, which the body reader bounds on the raw
 * text (src/http/json-depth.ts), so stored documents stay as shallow as requests.
 */
export function mergePatch(stored: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(stored);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key]) && Object.keys(value).length > 0) {
      out[key] = mergePatch(out[key] as Record<string, unknown>, value);
    } else out[key] = structuredClone(value);
  }
  return out;
}

/**
 * The public fields an update asks for: POST replaces them with the request's; PATCH merges the request into
 * the stored ones. Either way the result is validated in full afterwards.
 */
export function updatedFields(stored: StoredDoc, data: unknown, mode: 'replace' | 'merge'): Record<string, unknown> {
  const requested = requestFields(data);
  return mode === 'merge' ? mergePatch(requestFields(stored), requested) : requested;
}

/** Value at a dotted path ("sip.username"), undefined when any step is missing. */
export function getPath(doc: unknown, dottedPath: string): unknown {
  let node: unknown = doc;
  for (const key of dottedPath.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Sets a value at a dotted path, creating objects on the way. */
export function setPath(doc: Record<string, unknown>, dottedPath: string, value: unknown): void {
  const keys = dottedPath.split('.');
  let node = doc;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

export { isPlainObject };

/** A DELETE's answer: the document as it was, flagged as crossbar_doc does (`_read_only.deleted`). */
export function deletedView(view: Record<string, unknown>): Record<string, unknown> {
  const readOnly = isPlainObject(view._read_only) ? view._read_only : {};
  return { ...view, _read_only: { ...readOnly, deleted: true } };
}
