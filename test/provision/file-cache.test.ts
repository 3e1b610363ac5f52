import { describe, expect, it } from 'vitest';
import { FILE_ENTRY_OVERHEAD, FileCache } from '../../src/provision/file-cache.js';

/** The renderer's in-memory files: bounded in bytes, and a held slot never keeps a file the cache let go of. */
const file = (bytes: number, tag: string) => ({ wire: { bytes: Buffer.alloc(bytes) }, tag });

describe('file cache', () => {
  it('a held slot lets go of its file when the file is replaced, deleted or evicted', () => {
    const per = 1000 + 'k1'.length + FILE_ENTRY_OVERHEAD;
    const cache = new FileCache<ReturnType<typeof file>>(per * 2);
    const first = file(1000, 'k1 v1');
    cache.set('k1', first);
    const slot = cache.slot('k1')!;
    expect(slot.file).toBe(first);

    // Replaced by a newer render: the old slot is empty, the key's new slot holds the new file.
    const second = file(1000, 'k1 v2');
    cache.set('k1', second);
    expect(slot.file).toBeUndefined();
    const slot2 = cache.slot('k1')!;
    expect(slot2.file).toBe(second);

    // Evicted to make room (oldest first): its slot is empty too, and the bytes it counted are given back.
    cache.set('k2', file(1000, 'k2'));
    cache.set('k3', file(1000, 'k3'));
    expect(slot2.file).toBeUndefined();
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBe(per * 2);

    const slot3 = cache.slot('k3')!;
    cache.delete('k3');
    expect(slot3.file).toBeUndefined();
    expect(cache.slot('k3')).toBeUndefined();
    expect(cache.bytes).toBe(per);
  });
});
