/**
 * Throttles addresses that enumerate MACs. Each request for a per-device file whose MAC is unknown counts against
 * the address; within `windowSeconds` the first `limit` such requests get a plain 404 (a phone that is not set up
 * yet looks exactly like that), the one beyond the limit bans the address for `banSeconds`, during which every
 * /provision/ request from it gets 403 — known MACs included, or the ban would just slow the enumeration down.
 */
export interface ProbeGuardOptions {
  limit: number;
  windowSeconds: number;
  banSeconds: number;
  now?: () => number;
}

interface Counter {
  windowStart: number;
  count: number;
  bannedUntil: number;
}

const MAX_TRACKED = 100_000;

export class ProbeGuard {
  private readonly counters = new Map<string, Counter>();
  private readonly now: () => number;
  /** When the last ban running out ends. */
  private lastBanEnds = 0;

  constructor(private readonly opts: ProbeGuardOptions) {
    this.now = opts.now ?? Date.now;
  }

  isBanned(address: string): boolean {
    const now = this.now();
    // Nearly always nobody is banned: then no per-address lookup on the phone path.
    if (this.lastBanEnds <= now) return false;
    const c = this.counters.get(address);
    return !!c && c.bannedUntil > now;
  }

  /** Counts an unknown-MAC request; true when the address is (now) banned. */
  probe(address: string): boolean {
    const now = this.now();
    let c = this.counters.get(address);
    if (!c || now - c.windowStart > this.opts.windowSeconds * 1000) {
      if (!c && this.counters.size >= MAX_TRACKED) this.prune(now);
      c = { windowStart: now, count: 0, bannedUntil: c?.bannedUntil ?? 0 };
      this.counters.set(address, c);
    }
    c.count++;
    if (c.count > this.opts.limit) {
      c.bannedUntil = now + this.opts.banSeconds * 1000;
      this.lastBanEnds = Math.max(this.lastBanEnds, c.bannedUntil);
    }
    return c.bannedUntil > now;
  }

  private prune(now: number): void {
    for (const [addr, c] of this.counters) {
      if (c.bannedUntil <= now && now - c.windowStart > this.opts.windowSeconds * 1000) this.counters.delete(addr);
    }
  }

  /** Addresses currently refused (for logs/diagnostics). */
  banned(): string[] {
    const now = this.now();
    return [...this.counters].filter(([, c]) => c.bannedUntil > now).map(([a]) => a);
  }
}
