import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { KeptFiles, type KeptMeta } from '../../src/provision/kept-files.js';

/**
 * The rendered files kept on disk (DATA_DIR/rendered), on their own: a bucket rewritten for a few changed entries
 * streams the others from its old file, and every entry reads back byte for byte, in this run and the next.
 */
const SECRET = Buffer.alloc(32, 7);
const log = createLogger('error', () => undefined);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An answer of `size` bytes whose content tells its key and version apart (Date slot at 17, body after it). */
function answer(key: string, version: number, size: number): Buffer {
  const seed = `${key}#${version}|`;
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = seed.charCodeAt(i % seed.length);
  return out;
}
const meta = (key: string, version: number, at: number): KeptMeta => ({
  fp: `fp-${key}-${version}`,
  at,
  userIds: [],
  vendor: 'yealink',
  model: 'T46S',
  origin: '',
  template: 'mac.cfg',
  layer: 'builtin',
  contentType: 'text/plain',
  perDevice: true,
});
const wireOf = (bytes: Buffer) => ({ wire: { bytes, dateAt: 17, bodyAt: 64, keepAlive: 'Connection: keep-alive\r\n\r\n' } });

describe('kept files on disk', () => {
  it('a bucket rewritten for one changed entry keeps every other entry byte for byte (ranges past one copy chunk, a body larger than it)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kept-files-'));
    dirs.push(dir);
    // One device's files share a bucket: 400 entries of 4.3 KB (1.7 MB, more than the 1 MB copy chunk) and one of 1.5 MB.
    const keys = Array.from({ length: 400 }, (_, i) => `device-1/file-${i}.cfg`);
    const big = 'device-1/big.cfg';
    const expected = new Map<string, { meta: KeptMeta; bytes: Buffer }>();
    const kept = KeptFiles.open(dir, SECRET, log, { delayMs: 10_000 });
    let at = 1;
    for (const key of [...keys, big]) {
      const bytes = answer(key, 1, key === big ? 1_500_000 : 4300);
      const m = meta(key, 1, at++);
      kept.put(key, m, wireOf(bytes));
      expected.set(key, { meta: m, bytes });
    }
    await kept.flush();
    // Change two entries, one of them in the middle of the bucket, and remove a third.
    for (const key of [keys[200]!, keys[399]!]) {
      const bytes = answer(key, 2, 5000);
      const m = meta(key, 2, at++);
      kept.put(key, m, wireOf(bytes));
      expected.set(key, { meta: m, bytes });
    }
    kept.remove(keys[10]!);
    expected.delete(keys[10]!);
    await kept.flush();
    const check = (files: KeptFiles) => {
      expect(files.meta(keys[10]!)).toBeUndefined();
      for (const [key, e] of expected) {
        const m = files.meta(key);
        expect(m?.fp).toBe(e.meta.fp);
        const wire = files.wire(key, m!);
        expect(wire?.bytes.equals(e.bytes), key).toBe(true);
        expect(wire?.dateAt).toBe(17);
        expect(wire?.bodyAt).toBe(64);
      }
    };
    check(kept);
    await kept.close();
    // One generation per bucket on disk, and the next run reads the same entries.
    expect(readdirSync(dir).filter((f) => f.endsWith('.kept'))).toHaveLength(1);
    const again = KeptFiles.open(dir, SECRET, log);
    check(again);
    const read = new Map<string, Buffer>();
    await again.readNamed(new Set(expected.keys()), (key, _m, wire) => (read.set(key, Buffer.from(wire.bytes)), true));
    expect(new Set(read.keys())).toEqual(new Set(expected.keys()));
    for (const [key, bytes] of read) expect(bytes.equals(expected.get(key)!.bytes), key).toBe(true);
    await again.close();
  });
  it('a due write waits while phones are fetching, up to maxDelayMs after its first change, then is written', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kept-files-'));
    dirs.push(dir);
    vi.useFakeTimers();
    try {
      let clock = 0;
      const kept = KeptFiles.open(dir, SECRET, log, { delayMs: 100, maxDelayMs: 1000, now: () => clock });
      const written = () => readdirSync(dir).filter((n) => !n.startsWith('.')).length;
      let fetching = true;
      kept.busy = () => fetching;
      kept.put('device-1/a.cfg', meta('device-1/a.cfg', 1, 1), wireOf(answer('device-1/a.cfg', 1, 3000)));
      // Quiet for 100 ms, but phones are fetching: it waits, quiet period after quiet period.
      for (let t = 100; t < 1000; t += 100) {
        clock = t;
        await vi.advanceTimersByTimeAsync(100);
        expect(written()).toBe(0);
      }
      // 1 s after its first change: written although phones still fetch.
      clock = 1000;
      await vi.advanceTimersByTimeAsync(100);
      await vi.waitFor(() => expect(written()).toBe(1));
      // With no phone fetching, the next change is written after one quiet period.
      fetching = false;
      kept.put('device-2/b.cfg', meta('device-2/b.cfg', 1, 2), wireOf(answer('device-2/b.cfg', 1, 3000)));
      clock = 1100;
      await vi.advanceTimersByTimeAsync(100);
      await vi.waitFor(() => expect(written()).toBe(2));
      await kept.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
