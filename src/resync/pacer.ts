/**
 * A keyed work queue released at `ratePerSecond`. Keys are de-duplicated (a device changed ten times while
 * waiting is re-synced once, with the merged request), so a template change touching 10,000 phones
 * neither floods the network nor the phones' provisioning server with simultaneous fetches.
 */
export class Pacer<T> {
  private readonly queue = new Map<string, T>();
  private timer?: NodeJS.Timeout;
  private readonly tickMs: number;
  private readonly perTick: number;

  constructor(
    ratePerSecond: number,
    private readonly work: (item: T) => Promise<void>,
    private readonly merge: (older: T, newer: T) => T,
    private readonly onError: (err: unknown) => void,
  ) {
    const rate = Math.max(1, ratePerSecond);
    this.tickMs = Math.max(10, Math.floor(1000 / rate));
    this.perTick = Math.max(1, Math.round((rate * this.tickMs) / 1000));
  }

  get size(): number {
    return this.queue.size;
  }

  push(key: string, item: T): void {
    const existing = this.queue.get(key);
    this.queue.set(key, existing ? this.merge(existing, item) : item);
    if (!this.timer) {
      // First batch goes at once: a single device change is not delayed by the pacing.
      // The timer then runs for at least one tick, so a burst of pushes is paced from the second item on.
      this.release();
      this.schedule();
    }
  }

  drop(key: string): void {
    this.queue.delete(key);
  }

  private schedule(): void {
    this.timer = setInterval(() => {
      this.release();
      if (this.queue.size === 0) this.stop();
    }, this.tickMs);
    this.timer.unref();
  }

  private release(): void {
    for (let i = 0; i < this.perTick && this.queue.size > 0; i++) {
      const [key, item] = this.queue.entries().next().value as [string, T];
      this.queue.delete(key);
      this.work(item).catch(this.onError);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  clear(): void {
    this.stop();
    this.queue.clear();
  }
}
