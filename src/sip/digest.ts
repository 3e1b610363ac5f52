import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SIP digest (RFC 2617 / 3261 §22, MD5, qop=auth), both sides.
 *
 * Server side replaces npm `sip/digest`'s (see sip.md §2.2 bug 4): nonces are random bytes plus a timestamp,
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

export type NonceCheck = 'ok' | 'stale' | 'invalid' | 'replay';

export class NonceAuthority {
  private readonly key = randomBytes(32);
  /** nonce → highest nc seen (0 = issued and unused, only for qop-less clients). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly nonceTtlMs = 300_000) {}

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
    return now - issued > this.nonceTtlMs ? 'stale' : 'ok';
  }

  /**
   * Record a use of the nonce after the digest itself was verified. With qop, nc must grow strictly;
   * without qop (RFC 2069 clients) a nonce is good for exactly one request.
   */
  consume(nonce: string, nc: string | undefined, now = Date.now()): 'ok' | 'replay' {
    this.sweep(now);
    const last = this.seen.get(nonce);
    if (nc === undefined) {
      if (last !== undefined) return 'replay';
      this.seen.set(nonce, Number.MAX_SAFE_INTEGER);
      return 'ok';
    }
    const count = parseInt(nc, 16);
    if (!Number.isFinite(count) || count < 1) return 'replay';
    if (last !== undefined && count <= last) return 'replay';
    this.seen.set(nonce, count);
    return 'ok';
  }

  private lastSweep = 0;
  private sweep(now: number): void {
    if (now - this.lastSweep < 10_000) return;
    this.lastSweep = now;
    for (const nonce of this.seen.keys()) if (this.check(nonce, now) !== 'ok') this.seen.delete(nonce);
  }

  challenge(realm: string, stale = false, now = Date.now()): string {
    return `Digest realm="${realm}", nonce="${this.issue(now)}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }
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
