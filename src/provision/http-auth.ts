import { timingSafeEqual } from 'node:crypto';
import { computeResponse, NonceAuthority, safeEqualHex } from '../digest/digest.js';
import { MAX_AUTHORIZATION_LENGTH, parseAuthHeader } from '../digest/auth-header.js';
import type { AccountDoc } from '../domain/types.js';

/**
 * Phone-side HTTP authentication for config files, per account (`provisioning.http_auth`). Digest (RFC 7616 with
 * MD5, qop=auth — what phones implement) or Basic, on the digest module the SIP registrar uses too (src/digest/):
 * nonces are self-validating (issue time + HMAC with a per-process key) and expire; each (nonce, nc) is accepted
 * once, so a captured Authorization header cannot be replayed, and a nonce answered wrongly is burned.
 */
export interface AuthSettings {
  type: 'digest' | 'basic';
  username: string;
  passwords: string[];
  realm: string;
}

/** `strike`: credentials were offered and are wrong (see HttpAuth.check). */
export type AuthResult = { ok: true } | { ok: false; strike: boolean; challenge: string };

const NONCE_TTL_MS = 5 * 60_000;
const MAX_TRACKED_NONCES = 100_000;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** undefined when the account does not protect its files. */
export function authSettings(account: AccountDoc): AuthSettings | undefined {
  const cfg = account.provisioning?.http_auth as
    | { type?: string; username?: string; password?: string; passwords?: unknown }
    | undefined;
  if (!cfg || typeof cfg.username !== 'string' || !cfg.username) return undefined;
  // Several passwords may be accepted at once so that credentials can be rotated on deployed phones.
  const passwords = [
    ...(typeof cfg.password === 'string' && cfg.password ? [cfg.password] : []),
    ...(Array.isArray(cfg.passwords) ? cfg.passwords.filter((p): p is string => typeof p === 'string' && !!p) : []),
  ];
  if (passwords.length === 0) return undefined;
  return { type: cfg.type === 'basic' ? 'basic' : 'digest', username: cfg.username, passwords, realm: account.realm };
}

/** Longest Authorization header looked at (the same bound as SIP's): refused before any parsing. */
export const MAX_AUTH_HEADER = MAX_AUTHORIZATION_LENGTH;

export class HttpAuth {
  /** Signed, expiring nonces and the nonce-counts seen: the same authority as the SIP registrar's. */
  private readonly nonces = new NonceAuthority(NONCE_TTL_MS, MAX_TRACKED_NONCES);

  constructor(private readonly now: () => number = Date.now) {}

  challenge(settings: AuthSettings, stale = false): string {
    const realm = settings.realm.replace(/["\\]/g, '');
    if (settings.type === 'basic') return `Basic realm="${realm}", charset="UTF-8"`;
    return `Digest realm="${realm}", qop="auth", algorithm=MD5, nonce="${this.nonces.issue(this.now())}"${stale ? ', stale=true' : ''}`;
  }

  /**
   * Checks a request's credentials. A refusal says whether it is a `strike`: credentials were offered and are
   * wrong (or malformed) — the caller counts those toward the probe ban. No credentials (the first request, which
   * fetches the challenge), an expired nonce and a replayed answer are not strikes: phones do all three. A nonce
   * answered wrongly is burned: it serves one guess, not unlimited ones.
   */
  check(settings: AuthSettings, method: string, uri: string, header: string | undefined): AuthResult {
    const refuse = (strike: boolean, stale = false): AuthResult => ({ ok: false, strike, challenge: this.challenge(settings, stale) });
    if (!header) return refuse(false);
    if (header.length > MAX_AUTH_HEADER) return refuse(true);
    if (settings.type === 'basic') {
      if (!/^basic\s+/i.test(header)) return refuse(true);
      const decoded = Buffer.from(header.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return refuse(true);
      const user = decoded.slice(0, colon);
      const pass = decoded.slice(colon + 1);
      const ok = safeEqual(user, settings.username) && settings.passwords.some((p) => safeEqual(pass, p));
      return ok ? { ok: true } : refuse(true);
    }
    const parsed = parseAuthHeader(header);
    if (!parsed || parsed.scheme.toLowerCase() !== 'digest') return refuse(true);
    const p = parsed.params;
    if (!p.username || !p.nonce || !p.response || !p.uri || p.realm !== settings.realm) return refuse(true);
    if (p.algorithm && p.algorithm.toUpperCase() !== 'MD5') return refuse(true);
    // The digest covers the URI: it must be the one actually requested.
    if (p.uri !== uri) return refuse(true);
    const now = this.now();
    const nonceState = this.nonces.check(p.nonce, now);
    if (nonceState === 'stale') return refuse(false, true);
    if (nonceState === 'invalid') return refuse(true);
    const qop = p.qop;
    if (this.nonces.use(p.nonce, qop ? p.nc : undefined) === 'burned') return refuse(true);
    const wrong = (): AuthResult => {
      this.nonces.burn(p.nonce!, now);
      return refuse(true);
    };
    if (!safeEqual(p.username, settings.username)) return wrong();
    if (qop !== undefined && qop !== 'auth') return wrong();
    const nc = qop ? parseInt(p.nc ?? '', 16) : undefined; // no qop: the nonce is single-use
    if (qop && (!Number.isFinite(nc) || nc! < 1 || !p.cnonce)) return wrong();
    const params = { username: settings.username, realm: settings.realm, nonce: p.nonce, uri: p.uri, qop, nc: p.nc, cnonce: p.cnonce };
    const matches = settings.passwords.some((password) => safeEqualHex(p.response!, computeResponse(method, password, params)));
    if (!matches) return wrong();
    // Replayed: ask for a fresh nonce.
    if (this.nonces.consume(p.nonce, qop ? p.nc : undefined, now) !== 'ok') return refuse(false, true);
    return { ok: true };
  }
}
