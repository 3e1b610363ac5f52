import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Digest authentication (RFC 2617 / 7616 with MD5, qop=auth; RFC 3261 §22 for SIP), both sides, for both users:
 * the SIP registrar (src/sip/registrar.ts) and phone-side HTTP auth for config files (src/provision/http-auth.ts).
 *
 * Server side replaces npm `sip/digest`'s (whose nonces were neither signed nor expired): nonces are random bytes plus a timestamp,
 * HMAC-signed with a per-process key, so we can check that *we* issued a nonce and when, without storing
 * every challenge; they expire after `nonceTtlMs`; every nonce-count seen is tracked so a captured
 * Authorization header cannot be replayed; HA1 is recomputed from the current password on every request
 * (a password change takes effect immediately).
 */
const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

export function ha1(username: string, realm: string, password: string): string {
  return md5(`${username}:${realm}:${password}`);
}

export interface DigestParams {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
  algorithm?: string;
  opaque?: string;
}

export function computeResponse(method: string, password: string, p: Omit<DigestParams, 'response'>): string {
  const a1 = ha1(p.username, p.realm, password);
  const a2 = md5(`${method}:${p.uri}`);
  if (p.qop) return md5(`${a1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:${p.qop}:${a2}`);
  return md5(`${a1}:${p.nonce}:${a2}`);
}

/** What the nonce-count of an Authorization says, before its digest is checked. */
export type NonceUse = 'fresh' | 'burned' | 'replay';

/** Marks a nonce a failed digest was sent with: good for nothing any more. */
const BURNED = -1;
/** nonce → highest nc seen, or BURNED. Bounded: see `remember`. */
const MAX_TRACKED_NONCES = 50_000;

export class NonceAuthority {
  private readonly key = randomBytes(32);
  /** nonce → highest nc seen (MAX_SAFE_INTEGER: used once by a qop-less client; BURNED: a failed digest). */
  private readonly seen = new Map<string, number>();
  /**
   * Nonces issued at or before this time are treated as stale. Raised only when `seen` is full and its
   * oldest entry is forgotten: a forgotten nonce could otherwise be replayed or guessed on again.
   */
  private forgottenUpTo = -Infinity;

  constructor(
    private readonly nonceTtlMs = 300_000,
    private readonly maxTracked = MAX_TRACKED_NONCES,
  ) {}

  issue(now = Date.now()): string {
    const payload = `${now.toString(36)}.${randomBytes(12).toString('base64url')}`;
    return `${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 22);
  }

  /** Structural + age check, without consuming the nonce. */
  check(nonce: string, now = Date.now()): 'ok' | 'stale' | 'invalid' {
    const parts = nonce.split('.');
    if (parts.length !== 3) return 'invalid';
    const [ts, rand, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${ts}.${rand}`));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    const issued = parseInt(ts, 36);
    if (!Number.isFinite(issued) || issued > now + 5_000) return 'invalid';
    return now - issued > this.nonceTtlMs || issued <= this.forgottenUpTo ? 'stale' : 'ok';
  }

  /**
   * Whether a (checked) nonce may carry this nc, decided before any digest is computed: burned by a
   * failed digest, or a nonce-count already used (with qop, nc must grow strictly; without qop, RFC 2069
   * clients, a nonce is good for exactly one request).
   */
  use(nonce: string, nc: string | undefined): NonceUse {
    const last = this.seen.get(nonce);
    if (last === BURNED) return 'burned';
    if (nc === undefined) return last === undefined ? 'fresh' : 'replay';
    const count = parseInt(nc, 16);
    if (!Number.isFinite(count) || count < 1) return 'replay';
    return last !== undefined && count <= last ? 'replay' : 'fresh';
  }

  /** Record a use of the nonce after the digest itself was verified (`use` said 'fresh'). */
  consume(nonce: string, nc: string | undefined, now = Date.now()): 'ok' | 'replay' {
    if (this.use(nonce, nc) !== 'fresh') return 'replay';
    this.remember(nonce, nc === undefined ? Number.MAX_SAFE_INTEGER : parseInt(nc, 16), now);
    return 'ok';
  }

  /**
   * A failed digest uses the nonce up: each further guess then costs a fresh challenge round trip, and the
   * per-source and per-user limits see every one of them.
   */
  burn(nonce: string, now = Date.now()): void {
    this.remember(nonce, BURNED, now);
  }

  private remember(nonce: string, value: number, now: number): void {
    this.sweep(now);
    if (!this.seen.has(nonce) && this.seen.size >= this.maxTracked) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
      this.forgottenUpTo = Math.max(this.forgottenUpTo, issuedAt(oldest));
    }
    this.seen.set(nonce, value);
  }

  private lastSweep = 0;
  private sweep(now: number): void {
    if (now - this.lastSweep < 10_000) return;
    this.lastSweep = now;
    // Entries are our own verified nonces: their timestamp is enough, no HMAC per entry.
    for (const nonce of this.seen.keys()) {
      const issued = issuedAt(nonce);
      if (now - issued > this.nonceTtlMs || issued <= this.forgottenUpTo) this.seen.delete(nonce);
    }
  }

  /** Nonces remembered (for tests of the bound). */
  get tracked(): number {
    return this.seen.size;
  }

  challenge(realm: string, stale = false, now = Date.now()): string {
    return `Digest realm="${realm}", nonce="${this.issue(now)}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }
}

function issuedAt(nonce: string): number {
  return parseInt(nonce.slice(0, nonce.indexOf('.')), 36);
}

/** Build an Authorization/Proxy-Authorization value answering a challenge with the device's own credentials. */
export function answerChallenge(
  challenge: Record<string, string>,
  method: string,
  uri: string,
  username: string,
  password: string,
): string | undefined {
  const realm = challenge.realm;
  const nonce = challenge.nonce;
  if (realm === undefined || nonce === undefined) return undefined;
  if (challenge.algorithm && challenge.algorithm.toUpperCase() !== 'MD5') return undefined;
  const qops = (challenge.qop ?? '').split(',').map((q) => q.trim().toLowerCase());
  const qop = qops.includes('auth') ? 'auth' : undefined;
  const cnonce = qop ? randomBytes(8).toString('hex') : undefined;
  const nc = qop ? '00000001' : undefined;
  const response = computeResponse(method, password, { username, realm, nonce, uri, qop, nc, cnonce });
  const parts = [
    `username="${username}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${uri}"`,
    `response="${response}"`,
    'algorithm=MD5',
  ];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (challenge.opaque !== undefined) parts.push(`opaque="${challenge.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}
