/**
 * Freezes a document and everything in it. Stored documents are shared: the phone path's caches and replay
 * tickets recognise "unchanged" by identity (the very object they were built from), so a stored document
 * must never change in place. Frozen, an in-place write throws (ESM is strict mode) instead of going unseen.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
