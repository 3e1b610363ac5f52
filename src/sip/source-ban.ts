import { clientKeys } from '../net/client-network.js';
import { StrikeTable } from '../net/strike-table.js';

/**
 * Failed digests per source (what Kamailio does with pike/htable): `limit` failures within `windowMs`
 * ban the source for `banMs`; while banned, its REGISTERs with credentials get a plain 403 and nothing of
 * them is checked. Requests made during a ban do not extend it (a phone left with a wrong password comes
 * back on its own).
 *
 * Bounded: at most `maxSources` entries (quiet ones are forgotten first, bans last). Dropping a ban early
 * needs `maxSources` other failing sources in the meantime, and then the per-user limit (guess-limiter.ts)
 * still holds.
 */
export interface SourceBanOptions {
  limit: number;
  windowMs: number;
  banMs: number;
  maxSources?: number;
  now: () => number;
}

const MAX_SOURCES = 10_000;

export class SourceBan {
  private readonly table: StrikeTable;

  constructor(private readonly opts: SourceBanOptions) {
    // The table bans on the strike beyond its limit; here the limit-th failure bans.
    this.table = new StrikeTable(opts.limit - 1, opts.windowMs, opts.maxSources ?? MAX_SOURCES);
  }

  isBanned(source: string): boolean {
    return this.table.bannedUntil(source) > this.opts.now();
  }

  /** Counts one failure; true when it starts a ban. */
  fail(source: string): boolean {
    return this.table.strike(source, this.opts.now(), this.opts.banMs);
  }

  get size(): number {
    return this.table.counters.size;
  }
}

/**
 * What counts as one source: an IPv4 address, or the /64 of an IPv6 address (one host usually holds a
 * whole /64, so counting single IPv6 addresses would not limit anything). The same keys the phone-file
 * probe guard counts by.
 */
export function sourceKey(address: string): string {
  const keys = clientKeys(address);
  return keys.address.includes(':') ? keys.network : keys.address;
}
