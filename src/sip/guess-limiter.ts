/**
 * Failed digests per username, from any number of sources: slows a distributed guess down, never locks
 * the user out. Each username has a token bucket of `burst` failures refilled at `ratePerMinute`; every
 * failure takes a token, and while the bucket is empty an attempt from an untrusted source is refused
 * without its password being checked (a right guess then looks exactly like a wrong one). The source that
 * last registered the username successfully (the phone's own) is trusted and never refused.
 *
 * Keys are opaque strings (realm + username); known and unknown usernames are counted alike, so the
 * limiter says nothing about which exist. Bounded: at most `maxUsers` buckets and `maxUsers` trusted
 * sources. When the buckets are full, a username without one shares a single overflow bucket, so a flood
 * of invented usernames can neither grow memory nor push out the bucket of the user under attack.
 */
export interface GuessLimiterOptions {
  burst: number;
  ratePerMinute: number;
  maxUsers?: number;
  now: () => number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

const MAX_USERS = 10_000;
/** Keys longer than this are cut: real SIP usernames are ≤ 32 characters, realms ≤ 253. */
const MAX_KEY_LENGTH = 320;

export class GuessLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly trusted = new Map<string, string>();
  private readonly overflow: Bucket;
  private readonly maxUsers: number;

  constructor(private readonly opts: GuessLimiterOptions) {
    this.maxUsers = opts.maxUsers ?? MAX_USERS;
    this.overflow = { tokens: opts.burst, updated: opts.now() };
  }

  static key(realm: string, username: string): string {
    return `${realm.toLowerCase()}\u0000${username.toLowerCase()}`.slice(0, MAX_KEY_LENGTH);
  }

  /** May an attempt for `user` from `source` have its credentials checked now? */
  allows(user: string, source: string): boolean {
    if (this.trusted.get(user) === source) return true;
    const bucket = this.buckets.get(user) ?? (this.buckets.size >= this.maxUsers ? this.overflow : undefined);
    return !bucket || this.refill(bucket) >= 1;
  }

  failed(user: string): void {
    let bucket = this.buckets.get(user);
    if (bucket) this.buckets.delete(user); // re-inserted: the map stays in order of last failure
    else {
      this.dropOldestIfRefilled();
      if (this.buckets.size >= this.maxUsers) bucket = this.overflow;
      else bucket = { tokens: this.opts.burst, updated: this.opts.now() };
    }
    this.refill(bucket);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    if (bucket !== this.overflow) this.buckets.set(user, bucket);
  }

  succeeded(user: string, source: string): void {
    this.trusted.delete(user);
    if (this.trusted.size >= this.maxUsers) this.trusted.delete(this.trusted.keys().next().value as string);
    this.trusted.set(user, source);
  }

  get size(): { buckets: number; trusted: number } {
    return { buckets: this.buckets.size, trusted: this.trusted.size };
  }

  private refill(bucket: Bucket): number {
    const now = this.opts.now();
    const elapsed = Math.max(0, now - bucket.updated);
    bucket.tokens = Math.min(this.opts.burst, bucket.tokens + (elapsed * this.opts.ratePerMinute) / 60_000);
    bucket.updated = now;
    return bucket.tokens;
  }

  /** A bucket back to full is the same as none: the least recently failed one goes if it is. */
  private dropOldestIfRefilled(): void {
    const oldest = this.buckets.keys().next();
    if (oldest.done) return;
    const bucket = this.buckets.get(oldest.value)!;
    if (this.refill(bucket) >= this.opts.burst) this.buckets.delete(oldest.value);
  }
}
