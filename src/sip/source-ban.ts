import net from 'node:net';

/**
 * Failed digests per source (what Kamailio does with pike/htable): `limit` failures within `windowMs`
 * ban the source for `banMs`; while banned, its REGISTERs with credentials get a plain 403 and nothing of
 * them is checked. Requests made during a ban do not extend it (a phone left with a wrong password comes
 * back on its own).
 *
 * Bounded: at most `maxSources` entries, kept in order of their last failure; when full, the entry whose
 * last failure is the oldest is dropped. Dropping a ban early needs `maxSources` other failing sources
 * in the meantime, and then the per-user limit (guess-limiter.ts) still holds.
 */
export interface SourceBanOptions {
  limit: number;
  windowMs: number;
  banMs: number;
  maxSources?: number;
  now: () => number;
}

interface Entry {
  windowStart: number;
  failures: number;
  bannedUntil: number;
}

const MAX_SOURCES = 10_000;

export class SourceBan {
  private readonly entries = new Map<string, Entry>();
  private readonly maxSources: number;

  constructor(private readonly opts: SourceBanOptions) {
    this.maxSources = opts.maxSources ?? MAX_SOURCES;
  }

  isBanned(source: string): boolean {
    const e = this.entries.get(source);
    return !!e && e.bannedUntil > this.opts.now();
  }

  /** Counts one failure; true when it starts a ban. */
  fail(source: string): boolean {
    const now = this.opts.now();
    let e = this.entries.get(source);
    if (e) this.entries.delete(source); // re-inserted below: the map stays in order of last failure
    else if (this.entries.size >= this.maxSources) this.entries.delete(this.entries.keys().next().value as string);
    if (!e || now - e.windowStart >= this.opts.windowMs) e = { windowStart: now, failures: 0, bannedUntil: e?.bannedUntil ?? 0 };
    this.entries.set(source, e);
    if (e.bannedUntil > now) return false;
    e.failures++;
    if (e.failures < this.opts.limit) return false;
    e.bannedUntil = now + this.opts.banMs;
    e.failures = 0;
    e.windowStart = now;
    return true;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * What counts as one source: an IPv4 address, or the /64 of an IPv6 address (one host usually holds a
 * whole /64, so counting single IPv6 addresses would not limit anything).
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(address)) return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
  return address;
}

function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0]!.toLowerCase();
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...fill, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}
