interface Counter {
  windowStart: number;
  count: number;
  bannedUntil: number;
}

/**
 * One table of strike counters keyed by client (an address, a network, a SIP source), bounded in entries: more
 * than `limit` strikes within `windowMs` of the first one ban that key for the ban time. Strikes during a ban do
 * not extend it (a phone left with a wrong password comes back on its own). Shared by the phone-file probe guard
 * and the SIP registrar's source ban, so both count and forget the same way.
 */
export class StrikeTable {
  readonly counters = new Map<string, Counter>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly max: number,
  ) {}

  bannedUntil(key: string): number {
    return this.counters.get(key)?.bannedUntil ?? 0;
  }

  /** Counts one strike; true when this strike started a ban ending at `until`. */
  strike(key: string, now: number, banMs: number): boolean {
    let c = this.counters.get(key);
    if (!c || now - c.windowStart >= this.windowMs) {
      if (!c && this.counters.size >= this.max) this.makeRoom(now);
      const bannedUntil = c?.bannedUntil ?? 0;
      // Re-inserted, so that insertion order stays the order of last window start (eviction takes the oldest).
      this.counters.delete(key);
      c = { windowStart: now, count: 0, bannedUntil };
      this.counters.set(key, c);
    }
    c.count++;
    if (c.count > this.limit && c.bannedUntil <= now) {
      c.bannedUntil = now + banMs;
      return true;
    }
    return false;
  }

  /** Restores a ban read back from disk. */
  restore(key: string, until: number, now: number): void {
    if (!this.counters.has(key) && this.counters.size >= this.max) this.makeRoom(now);
    this.counters.set(key, { windowStart: now, count: 0, bannedUntil: until });
  }

  /**
   * Frees a tenth of the table: idle entries first, then the oldest unbanned ones, then (only when the table is
   * all bans) the oldest bans. One pass for many inserts, so a flood of new addresses costs O(1) each on average.
   */
  private makeRoom(now: number): void {
    const target = Math.floor(this.max * 0.9);
    for (const [key, c] of this.counters) {
      if (c.bannedUntil <= now && now - c.windowStart >= this.windowMs) this.counters.delete(key);
    }
    for (const [key, c] of this.counters) {
      if (this.counters.size <= target) return;
      if (c.bannedUntil <= now) this.counters.delete(key);
    }
    for (const key of this.counters.keys()) {
      if (this.counters.size <= target) return;
      this.counters.delete(key);
    }
  }

  active(now: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, c] of this.counters) if (c.bannedUntil > now) out.set(key, c.bannedUntil);
    return out;
  }
}

