/**
 * A keyed work queue released at `ratePerSecond`. Keys are de-duplicated (a device changed ten times while
 * waiting is re-synced once, with the merged request), so a template change touching 10,000 phones
 * neither floods the network nor the phones' provisioning server with simultaneous fetches.
 *
 * Why a credit counter and not "N items per setInterval tick": Node timers fire late (a 10 ms interval
 * is often 11–15 ms under load), and a fixed batch per tick turns every late millisecond into lost rate.
 * Here each tick adds credit for the time that really passed (read from the clock), so the configured
 * rate is what you get. Work is started, not awaited: responses are waited for concurrently, and only
 * `maxInFlight` unfinished items are allowed at once (a burst of dead phones cannot pile up unbounded
 * transactions); a finishing item releases the next one at once if credit allows.
 */
export interface PacerClock {
  now(): number;
  /** Run `fn` after `ms`; returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
}

export const realClock: PacerClock = {
  now: () => performance.now(),
  schedule(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface PacerOptions {
  /** Default 8 s worth of sends (T1 doubling 0.5+1+2+4 s: a phone answering a 4th retransmission still fits). */
  maxInFlight?: number;
  /** Default 10 ms. */
  tickMs?: number;
  /** Largest burst after a late tick or an idle period, in ms of rate. Default 100 ms. */
  burstMs?: number;
  clock?: PacerClock;
}

export class Pacer<T> {
  private readonly queue = new Map<string, T>();
  private cancelTick?: () => void;
  private readonly rate: number;
  private readonly maxInFlight: number;
  private readonly tickMs: number;
  private readonly maxCredit: number;
  private readonly clock: PacerClock;
  /** Credit in item-milliseconds (1 item = 1000): integer arithmetic with a millisecond clock, no float drift. */
  private credit = 1000; // the first item after start goes at once: a single device change is not delayed
  private lastRefill: number;
  private inFlight = 0;
  /** Items started so far (tests, bench). */
  started = 0;

  constructor(
    ratePerSecond: number,
    private readonly work: (item: T) => Promise<void>,
    private readonly merge: (older: T, newer: T) => T,
    private readonly onError: (err: unknown) => void,
    options: PacerOptions = {},
  ) {
    this.rate = Math.max(1, ratePerSecond);
    this.tickMs = options.tickMs ?? 10;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? Math.ceil(this.rate * 8));
    this.maxCredit = Math.max(1000, this.rate * (options.burstMs ?? 100));
    this.clock = options.clock ?? realClock;
    this.lastRefill = this.clock.now();
  }

  get size(): number {
    return this.queue.size;
  }

  get running(): number {
    return this.inFlight;
  }

  push(key: string, item: T): void {
    const existing = this.queue.get(key);
    this.queue.set(key, existing ? this.merge(existing, item) : item);
    this.pump();
  }

  drop(key: string): void {
    this.queue.delete(key);
  }

  private refill(): void {
    const now = this.clock.now();
    this.credit = Math.min(this.maxCredit, this.credit + (now - this.lastRefill) * this.rate);
    this.lastRefill = now;
  }

  private pump(): void {
    this.refill();
    while (this.credit >= 1000 && this.queue.size > 0 && this.inFlight < this.maxInFlight) {
      const [key, item] = this.queue.entries().next().value as [string, T];
      this.queue.delete(key);
      this.credit -= 1000;
      this.start(item);
    }
    if (this.queue.size > 0 && !this.cancelTick) {
      this.cancelTick = this.clock.schedule(() => {
        this.cancelTick = undefined;
        this.pump();
      }, this.tickMs);
    }
  }

  private start(item: T): void {
    this.inFlight++;
    this.started++;
    let p: Promise<void>;
    try {
      p = this.work(item);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.catch(this.onError).finally(() => {
      this.inFlight--;
      if (this.queue.size > 0) this.pump();
    });
  }

  stop(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
  }

  clear(): void {
    this.stop();
    this.queue.clear();
  }
}
