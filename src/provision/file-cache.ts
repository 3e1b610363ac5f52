/**
 * Rendered per-device files in memory, bounded in bytes: the one copy of each body (its wire, head and body in one
 * buffer). Oldest-inserted out, no LRU bookkeeping on the hit path. Validity is never decided here: a caller
 * compares an entry's fingerprint with the current one (src/provision/file-fingerprint.ts) before serving it.
 */
export interface Sized {
  wire: { bytes: Buffer };
}

/** The entry object, its metadata and the Map slot: held per file besides its bytes and key. */
export const FILE_ENTRY_OVERHEAD = 320;

export class FileCache<T extends Sized> {
  private readonly entries = new Map<string, { file: T; bytes: number }>();
  private total = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): T | undefined {
    return this.entries.get(key)?.file;
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
    this.total -= entry.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }
}
