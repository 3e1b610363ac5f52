/**
 * `fn` over `items` with at most `limit` calls in flight, results in the order of `items`. The store reads its
 * files at start-up this way: all at once, 100k devices are tens of thousands of shard files, and opening them
 * together fails with EMFILE (too many open files) long before the I/O would overlap any better.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
