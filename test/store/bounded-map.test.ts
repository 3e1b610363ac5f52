import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../src/store/bounded-map.js';

/** The store's start-up reads (thousands of shard files at 100k devices) go through this: never all at once. */
describe('mapBounded', () => {
  it('never has more than `limit` calls in flight, and returns results in the order of the items', async () => {
    let inFlight = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const items = Array.from({ length: 500 }, (_, i) => i);
    const done = mapBounded(items, 16, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Completes in reverse order of start within each wave: order of results must not follow completion.
      await new Promise<void>((r) => release.push(r));
      inFlight--;
      return i * 2;
    });
    while (release.length > 0 || inFlight > 0) {
      await new Promise((r) => setImmediate(r));
      for (const r of release.splice(0).reverse()) r();
    }
    expect(await done).toEqual(items.map((i) => i * 2));
    expect(most).toBe(16);
  });

  it('an empty list, a limit above the count, and a failure (rejects with it)', async () => {
    expect(await mapBounded([], 8, async () => 1)).toEqual([]);
    expect(await mapBounded([1, 2], 64, async (x) => x + 1)).toEqual([2, 3]);
    await expect(mapBounded([1, 2, 3], 2, async (x) => { if (x === 2) throw new Error('boom'); return x; })).rejects.toThrow('boom');
  });
});
