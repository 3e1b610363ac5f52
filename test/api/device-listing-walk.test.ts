import { describe, expect, it } from 'vitest';
import type { DeviceDoc } from '../../src/domain/types.js';
import { listDevices, type DeviceListingSource } from '../../src/listing/device-listing.js';
import { SortedIds } from '../../src/store/device-index.js';

const id = (n: number) => n.toString(16).padStart(32, '0');
const doc = (n: number, name = `d${n}`) => ({ id: id(n), name }) as unknown as DeviceDoc;

/** A store's read side in miniature: a sorted id list and the documents, changed in place by "writes". */
function source(count: number) {
  const order = new SortedIds();
  const docs = new Map<string, DeviceDoc>();
  const put = (d: DeviceDoc) => {
    order.add(d.id);
    docs.set(d.id, d);
  };
  const drop = (key: string) => {
    order.remove(key);
    docs.delete(key);
  };
  for (let n = 10; n < 10 + count; n++) put(doc(n));
  let reads = 0;
  let onRead: (n: number) => void = () => undefined;
  const src: DeviceListingSource = {
    getDevice: (_a, key) => {
      onRead(++reads);
      return docs.get(key);
    },
    deviceIdsFrom: (_a, start, descending) => order.from(start, descending),
  };
  return { src, put, drop, setOnRead: (f: (n: number) => void) => (onRead = f), reads: () => reads };
}

describe('listDevices: the sliced walk', () => {
  it('visits each id once, in order, when writes land between slices (a write is applied in the yield)', async () => {
    for (const descending of [false, true]) {
      const s = source(100);
      // Writes land between slices (setImmediate queued before the walk's own yield), as the store's do.
      s.setOnRead((n) => {
        if (n !== 15) return;
        setImmediate(() => {
          s.put(doc(descending ? 200 : 1)); // behind the cursor: not listed
          s.put(doc(descending ? 1 : 200)); // ahead: listed
          s.drop(id(descending ? 12 : 105)); // ahead, deleted before reached: not listed
          s.put(doc(descending ? 11 : 106, 'changed')); // ahead, rewritten: its new version
          for (let n = 0; n < 5; n++) s.drop(id(descending ? 109 - n : 10 + n)); // behind: already listed
        });
      });
      const listed = await listDevices(s.src, { accountId: 'a', page: { descending }, sliceSize: 10, stopped: () => false });
      const ids = listed!.docs.map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      const sorted = [...ids].sort();
      expect(ids).toEqual(descending ? sorted.reverse() : sorted);
      expect(ids).not.toContain(id(descending ? 200 : 1));
      expect(ids).toContain(id(descending ? 1 : 200));
      expect(ids).not.toContain(id(descending ? 12 : 105));
      expect(listed!.docs.find((d) => d.id === id(descending ? 11 : 106))?.name).toBe('changed');
      expect(ids).toHaveLength(100); // 100 - 1 deleted ahead + 1 created ahead; the 5 deleted behind were already listed
    }
  });

  it('pages like the one-piece walk: page_size rows, next key = the next matching id', async () => {
    const s = source(50);
    const odd = (d: DeviceDoc) => Number.parseInt(d.id, 16) % 2 === 1;
    const page = await listDevices(s.src, { accountId: 'a', page: { pageSize: 4, startKey: id(20), descending: false }, filter: odd, sliceSize: 3, stopped: () => false });
    expect(page!.docs.map((d) => d.id)).toEqual([21, 23, 25, 27].map(id));
    expect(page!.nextKey).toBe(id(29));
    const fromCandidates = await listDevices(s.src, { accountId: 'a', page: { pageSize: 2, startKey: id(25), descending: true }, filter: odd, candidates: [id(27), id(21), id(23), id(25), id(21)], sliceSize: 1, stopped: () => false });
    expect(fromCandidates!.docs.map((d) => d.id)).toEqual([25, 23].map(id));
    expect(fromCandidates!.nextKey).toBe(id(21));
  });

  it('gives up at the next slice once stopped', async () => {
    const s = source(100);
    let stop = false;
    s.setOnRead((n) => {
      if (n === 5) stop = true;
    });
    expect(await listDevices(s.src, { accountId: 'a', page: { descending: false }, sliceSize: 10, stopped: () => stop })).toBeUndefined();
    expect(s.reads()).toBe(10);
  });
});
