/**
 * Rendered per-device files in memory, bounded in bytes: the one copy of each body (its wire, head and body in one
 * buffer). Oldest-inserted out, no LRU bookkeeping on the hit path. Validity is never decided here: a caller
 * compares an entry's fingerprint with the current one (src/provision/file-fingerprint.ts) before serving it.
 */
export interface Sized {
  wire: { bytes: Buffer };
}

/**
 * A file's place in the cache. A holder that serves the same file again and again (a kept answer in the front door)
 * may keep the slot instead of looking the key up each time: at 100k files the lookups were a fifth of a replay's
 * CPU. When the file leaves the cache (evicted, replaced by a newer render, forgotten) its slot lets go of it, so a
 * held slot never keeps bytes past the cache's bound; the holder then finds `file` undefined and looks the key up.
 */
export interface CacheSlot<T> {
  readonly file: T | undefined;
}

interface Slot<T> extends CacheSlot<T> {
  file: T | undefined;
  bytes: number;
}

/** The entry object, its metadata and the Map slot: held per file besides its bytes and key. */
export const FILE_ENTRY_OVERHEAD = 320;

export class FileCache<T extends Sized> {
  private readonly entries = new Map<string, Slot<T>>();
  private total = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): T | undefined {
    return this.entries.get(key)?.file;
  }

  /** The slot holding `key`'s file now (see CacheSlot); undefined when none is held. */
  slot(key: string): CacheSlot<T> | undefined {
    return this.entries.get(key);
  }

  set(key: string, file: T): void {
    this.delete(key);
    const bytes = file.wire.bytes.length + key.length + FILE_ENTRY_OVERHEAD;
    if (bytes > this.maxBytes) return;
    while (this.entries.size > 0 && this.total + bytes > this.maxBytes) this.delete(this.entries.keys().next().value!);
    this.entries.set(key, { file, bytes });
    this.total += bytes;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.file = undefined;
    this.total -= entry.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }
}
