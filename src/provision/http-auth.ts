import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccountDoc } from '../domain/types.js';

/**
 * Phone-side HTTP authentication for config files, per account (`provisioning.http_auth`). Digest (RFC 7616 with
 * MD5, qop=auth — what phones implement) or Basic. Nonces are self-validating (issue time + HMAC with a per-process
 * key) and expire; each (nonce, nc) is accepted once, so a captured Authorization header cannot be replayed, and a
 * nonce answered wrongly is burned.
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

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

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

/**
 * Longest Authorization header looked at. A phone's digest answer is a few hundred bytes (the URI is the longest
 * part); anything far beyond that is refused before any parsing, so no header can make the parse itself costly.
 */
export const MAX_AUTH_HEADER = 4096;

const SP = 32;
const HTAB = 9;
const COMMA = 44;
const QUOTE = 34;
const BACKSLASH = 92;
const EQUALS = 61;

/** Auth-param names: letters, digits, `_` and `-` (all that digest and basic use). */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45;
}
const isSpace = (c: number) => c === SP || c === HTAB;

/**
 * Splits `a="b", c=d` (the part after the scheme) into params, names lower-cased. One pass, each character looked
 * at a bounded number of times: linear in the input, whatever it holds (a regex over this grammar backtracks
 * quadratically on a long run of name characters). Quoted strings may hold commas and `\`-escapes; a value
 * without quotes runs to the next space or comma. Anything that is not `name=value` is skipped; an unterminated
 * quoted string ends the parse (its param is dropped); of repeated names the last one counts.
 */
export function parseAuthParams(header: string): Record<string, string> {
  // No prototype: a param named `__proto__` or `constructor` is just a key.
  const out: Record<string, string> = Object.create(null);
  const n = header.length;
  let i = 0;
  while (i < n) {
    let c = header.charCodeAt(i);
    if (isSpace(c) || c === COMMA) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && isNameChar(header.charCodeAt(i))) i++;
    if (i === nameStart) {
      i++; // a stray character: skip it
      continue;
    }
    const name = header.slice(nameStart, i).toLowerCase();
    while (i < n && isSpace(header.charCodeAt(i))) i++;
    if (i >= n || header.charCodeAt(i) !== EQUALS) continue; // a bare word: not a param
    i++;
    while (i < n && isSpace(header.charCodeAt(i))) i++;
    if (i < n && header.charCodeAt(i) === QUOTE) {
      i++;
      let value = '';
      let from = i;
      let closed = false;
      while (i < n) {
        c = header.charCodeAt(i);
        if (c === QUOTE) {
          closed = true;
          break;
        }
        if (c === BACKSLASH && i + 1 < n) {
          value += header.slice(from, i);
          from = i + 1; // the escaped character is kept as it is
          i += 2;
          continue;
        }
        i++;
      }
      if (!closed) break;
      out[name] = value + header.slice(from, i);
      i++;
      continue;
    }
    const valueStart = i;
    while (i < n && !isSpace((c = header.charCodeAt(i))) && c !== COMMA) i++;
    if (i > valueStart) out[name] = header.slice(valueStart, i);
  }
  return out;
}

/** What `seen` holds for a nonce that was answered wrongly: it opens nothing any more. */
const BURNED = -1;

export class HttpAuth {
  private readonly key = randomBytes(32);
  /** nonce → highest nc accepted, or BURNED. Insertion order is issue order (nonces are recorded when first used). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 22);
  }

  /** `<issue time, hex ms>.<random>.<HMAC>`: every challenge is its own, so burning one touches no other client. */
  private makeNonce(): string {
    const payload = `${this.now().toString(16)}.${randomBytes(9).toString('base64url')}`;
    return `${payload}.${this.sign(payload)}`;
  }

  /** 'ok' | 'stale' (genuine but expired) | 'bad' */
  private checkNonce(nonce: string): 'ok' | 'stale' | 'bad' {
    const parts = nonce.split('.');
    if (parts.length !== 3) return 'bad';
    const [ts, rand, mac] = parts as [string, string, string];
    if (!/^[0-9a-f]{1,13}$/.test(ts) || !/^[A-Za-z0-9_-]{12}$/.test(rand)) return 'bad';
    if (!safeEqual(mac, this.sign(`${ts}.${rand}`))) return 'bad';
    return this.now() - parseInt(ts, 16) > NONCE_TTL_MS ? 'stale' : 'ok';
  }

  challenge(settings: AuthSettings, stale = false): string {
    const realm = settings.realm.replace(/["\\]/g, '');
    if (settings.type === 'basic') return `Basic realm="${realm}", charset="UTF-8"`;
    return `Digest realm="${realm}", qop="auth", algorithm=MD5, nonce="${this.makeNonce()}"${stale ? ', stale=true' : ''}`;
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
    if (!/^digest\s+/i.test(header)) return refuse(true);
    const p = parseAuthParams(header.replace(/^digest\s+/i, ''));
    if (!p.username || !p.nonce || !p.response || !p.uri || p.realm !== settings.realm) return refuse(true);
    if (p.algorithm && p.algorithm.toUpperCase() !== 'MD5') return refuse(true);
    // The digest covers the URI: it must be the one actually requested.
    if (p.uri !== uri) return refuse(true);
    const nonceState = this.checkNonce(p.nonce);
    if (nonceState === 'stale') return refuse(false, true);
    if (nonceState === 'bad') return refuse(true);
    const last = this.seen.get(p.nonce) ?? 0;
    if (last === BURNED) return refuse(true);
    const wrong = (): AuthResult => {
      this.remember(p.nonce!, BURNED);
      return refuse(true);
    };
    if (!safeEqual(p.username, settings.username)) return wrong();
    const qop = p.qop;
    if (qop !== undefined && qop !== 'auth') return wrong();
    const nc = qop ? parseInt(p.nc ?? '', 16) : Number.MAX_SAFE_INTEGER; // no qop: the nonce is single-use
    if (qop && (!Number.isFinite(nc) || nc < 1 || !p.cnonce)) return wrong();
    const ha2 = md5(`${method}:${p.uri}`);
    const matches = settings.passwords.some((password) => {
      const ha1 = md5(`${settings.username}:${settings.realm}:${password}`);
      const expected = qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
      return safeEqual(p.response!.toLowerCase(), expected);
    });
    if (!matches) return wrong();
    if (nc <= last) return refuse(false, true); // replayed: ask for a fresh nonce
    this.remember(p.nonce, nc);
    return { ok: true };
  }

  private remember(nonce: string, value: number): void {
    if (!this.seen.has(nonce) && this.seen.size >= MAX_TRACKED_NONCES) {
      // Expired nonces first (refused as stale anyway; the issue time is in the nonce, no HMAC needed), then the
      // oldest, down to 90%: one pass serves many inserts.
      const now = this.now();
      for (const n of this.seen.keys()) if (now - parseInt(n, 16) > NONCE_TTL_MS) this.seen.delete(n);
      for (const n of this.seen.keys()) {
        if (this.seen.size <= MAX_TRACKED_NONCES * 0.9) break;
        this.seen.delete(n);
      }
    }
    this.seen.set(nonce, value);
  }
}
