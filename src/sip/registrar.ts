import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Directory } from '../store/directory.js';
import type { AccountDoc, DeviceRef } from '../domain/types.js';
import { computeResponse, NonceAuthority, safeEqualHex } from '../digest/digest.js';
import { MAX_AUTHORIZATION_LENGTH } from '../digest/auth-header.js';
import { detached, parseAuthHeader, parseNameAddr, parseUri } from './message.js';
import { GuessLimiter } from './guess-limiter.js';
import { RefusalLog } from './refusal-log.js';
import type { RegistrationTable } from './registry.js';
import { SourceBan, sourceKey } from './source-ban.js';

/**
 * REGISTER policy — the one implementation used by both backends (embedded and drachtio). It sees a
 * REGISTER as plain header strings plus the source address and answers with a status, reason and
 * headers; transport details (To-tag, Via handling) stay with the backend.
 *
 * Order of checks (why): realm first (the challenge must name the account's realm), then IP-authenticated
 * devices (no Authorization expected from them), then digest. Within digest, everything that needs no
 * secret (realm, nonce, uri, algorithm, qop, nc, username vs To) before the user is looked up, so the
 * answers never tell a known user from an unknown one. An unknown user or a wrong password gets 403
 * after a digest attempt, never another 401: a phone with a wrong password would otherwise loop.
 *
 * Brute force (why three limits): a failed digest burns its nonce (one guess per challenge round trip);
 * a source with too many failures is banned (source-ban.ts); a username guessed at from many sources is
 * slowed down but its own phone's address never is (guess-limiter.ts); refusals are logged at most once
 * per source per window (refusal-log.ts).
 */
export interface RegisterInput {
  requestUri: string;
  to?: string;
  from?: string;
  authorization?: string;
  contacts: string[];
  expires?: string;
  userAgent?: string;
  source: { address: string; port: number };
}

export interface RegisterDecision {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
}

export interface RegistrarOptions {
  minExpires: number;
  maxExpires: number;
  defaultExpires?: number;
  /** How long a challenge's nonce stays good (default 5 min); after that the phone gets 401 stale=true. */
  nonceTtlMs?: number;
  /** Brute-force limits (from config.ts: SIP_AUTH_FAIL_*, SIP_AUTH_BAN_SECONDS, SIP_USER_GUESS_RATE). */
  guard: GuardOptions;
}

export interface GuardOptions {
  /** Failed digests from one source within `failWindowMs` that ban it for `banMs`; also a username's burst. */
  failLimit: number;
  failWindowMs: number;
  banMs: number;
  /** Credential checks per minute for one username from untrusted sources once its burst is spent. */
  userGuessRate: number;
}

export class Registrar {
  readonly nonces: NonceAuthority;
  /** Stands in for the password of users that do not exist (random per process, never matched). */
  private readonly unknownUserSecret = randomBytes(24).toString('base64url');

  private readonly bans: SourceBan;
  private readonly guesses: GuessLimiter;
  private readonly refusals: RefusalLog;

  constructor(
    private readonly directory: Directory,
    private readonly table: RegistrationTable,
    private readonly options: RegistrarOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.nonces = new NonceAuthority(options.nonceTtlMs);
    const guard = options.guard;
    this.bans = new SourceBan({ limit: guard.failLimit, windowMs: guard.failWindowMs, banMs: guard.banMs, now });
    this.guesses = new GuessLimiter({ burst: guard.failLimit, ratePerMinute: guard.userGuessRate, now });
    this.refusals = new RefusalLog(log, { windowMs: guard.failWindowMs, now });
  }

  handle(input: RegisterInput): RegisterDecision {
    const to = input.to ? parseNameAddr(input.to) : undefined;
    const toUri = to ? parseUri(to.uri) : undefined;
    const ruri = parseUri(input.requestUri);
    if (!toUri || !ruri) return reply(400, 'Bad Request');
    const realm = this.realmOf(toUri.host, ruri.host);

    // IP-authenticated devices: the source address is the credential.
    const byIp = this.directory.findDeviceByIp(input.source.address);
    if (byIp && byIp.device.sip?.method === 'ip' && !input.authorization) {
      const { account, device } = byIp;
      const realms = [account.realm, device.sip?.realm].filter(Boolean).map((r) => String(r).toLowerCase());
      const userOk = !device.sip?.username || !toUri.user || device.sip.username.toLowerCase() === toUri.user.toLowerCase();
      if ((realms.includes(toUri.host) || realms.includes(ruri.host)) && userOk) {
        if (!isEnabled(byIp)) return reply(403, 'Device Disabled');
        return this.bind(byIp, toUri.user ?? device.sip?.username ?? device.id, input, 'ip');
      }
    }

    if (!input.authorization) return this.challenge(realm);
    return this.digest(input, input.authorization, toUri.user, realm);
  }

  /** A REGISTER carrying credentials: throttles, then checks that need no secret, then the digest. */
  private digest(input: RegisterInput, authorization: string, toUser: string | undefined, realm: string): RegisterDecision {
    this.refusals.flush(); // the count held back in the last window comes out with the next REGISTER
    const source = sourceKey(input.source.address);
    // A banned source is refused before anything of its Authorization is read.
    if (this.bans.isBanned(source)) {
      this.refusals.refused('source banned', { source: input.source.address });
      return reply(403, 'Forbidden');
    }
    // Bounded before it is parsed: the value comes from an unauthenticated, possibly spoofed datagram.
    if (authorization.length > MAX_AUTHORIZATION_LENGTH) return reply(400, 'Authorization Too Long');
    const auth = parseAuthHeader(authorization);
    if (!auth || auth.scheme.toLowerCase() !== 'digest') return this.challenge(realm);
    const p = auth.params;
    if (!p.username || !p.nonce || !p.response || !p.uri || !p.realm) return reply(400, 'Bad Authorization');
    if (p.realm.toLowerCase() !== realm) return this.challenge(realm);

    const nonceState = this.nonces.check(p.nonce, this.now());
    if (nonceState === 'invalid') return this.challenge(realm);
    if (nonceState === 'stale') return this.challenge(realm, true);

    // Every check that needs no secret comes before the user is looked up, so that a known and an unknown
    // username get the very same answers (status, reason, headers) to the same malformed Authorization.
    if (!sameUri(p.uri, input.requestUri)) return reply(400, 'Digest URI Mismatch');
    if (p.algorithm && p.algorithm.toUpperCase() !== 'MD5') return reply(403, 'Unsupported Algorithm');
    if (p.qop && p.qop.toLowerCase() !== 'auth') return reply(403, 'Unsupported qop');
    if (p.qop && (!p.cnonce || !/^[0-9a-fA-F]{8}$/.test(p.nc ?? ''))) return reply(400, 'Bad Authorization');
    const nc = p.qop ? p.nc : undefined;
    const use = this.nonces.use(p.nonce, nc);
    if (use === 'burned') return this.challenge(realm); // a failed guess used it up: a fresh nonce, another round trip
    const who = { realm, username: p.username, source: input.source.address };
    if (use === 'replay') {
      this.refusals.refused('replayed digest', who);
      return reply(403, 'Replayed Credentials');
    }
    // The credentials must be the AOR's own: a phone may not bind user B's address with user A's password.
    if (toUser && toUser.toLowerCase() !== p.username.toLowerCase()) {
      this.refusals.refused('username differs from To', { ...who, to_user: toUser.slice(0, 64) });
      return reply(403, 'Username Mismatch');
    }
    const user = GuessLimiter.key(realm, p.username);
    if (!this.guesses.allows(user, source)) {
      // Refused unchecked, exactly like a wrong password: a right guess made now learns nothing.
      this.failed(p.nonce, source, user);
      this.refusals.refused('too many guesses for this user', who);
      return reply(403, 'Forbidden');
    }

    // An unknown user (or one without a password) is checked against a secret nobody knows: same work,
    // same answer as a wrong password.
    const ref = this.directory.findDeviceBySipUsername(realm, p.username);
    const password = ref && (ref.device.sip?.method ?? 'password') === 'password' ? ref.device.sip?.password : undefined;
    const expected = computeResponse('REGISTER', password ?? this.unknownUserSecret, {
      username: p.username,
      realm: p.realm,
      nonce: p.nonce,
      uri: p.uri,
      qop: p.qop,
      nc: p.nc,
      cnonce: p.cnonce,
    });
    if (!ref || password === undefined || !safeEqualHex(expected, p.response)) {
      this.failed(p.nonce, source, user);
      this.refusals.refused(password === undefined ? 'unknown user' : 'bad credentials', who);
      return reply(403, 'Forbidden');
    }
    this.nonces.consume(p.nonce, nc, this.now());
    this.guesses.succeeded(user, source);
    if (!isEnabled(ref)) return reply(403, 'Device Disabled');
    return this.bind(ref, p.username, input, 'digest');
  }

  /** A refused guess: its nonce is used up, and it counts against the source and the username. */
  private failed(nonce: string, source: string, user: string): void {
    this.nonces.burn(nonce, this.now());
    this.guesses.failed(user);
    if (this.bans.fail(source)) {
      this.log.warn('sip source banned: too many failed digests', { source, seconds: Math.round(this.options.guard.banMs / 1000) });
    }
  }

  private realmOf(toHost: string, ruriHost: string): string {
    if (this.directory.findAccountByRealm(toHost)) return toHost;
    if (this.directory.findAccountByRealm(ruriHost)) return ruriHost;
    return toHost;
  }

  private challenge(realm: string, stale = false): RegisterDecision {
    return reply(401, 'Unauthorized', [['WWW-Authenticate', this.nonces.challenge(realm, stale, this.now())]]);
  }

  private bind(ref: DeviceRef, username: string, input: RegisterInput, how: 'ip' | 'digest'): RegisterDecision {
    const { account, device } = ref;
    const existing = this.table.get(account.id, device.id);
    if (input.contacts.length === 0) {
      // A query: report the current binding.
      return reply(200, 'OK', existing ? [['Contact', `<${existing.contact}>;expires=${remaining(existing.expiresAt, this.now())}`]] : []);
    }
    if (input.contacts.some((c) => c.trim() === '*')) {
      if (input.expires?.trim() !== '0') return reply(400, 'Invalid Wildcard');
      this.table.remove(account.id, device.id);
      return reply(200, 'OK');
    }
    const contact = parseNameAddr(input.contacts[0]!);
    if (!contact || !parseUri(contact.uri)) return reply(400, 'Bad Contact');
    let expires = this.expiresOf(contact.params.expires ?? undefined, input.expires);
    if (expires === undefined) return reply(400, 'Bad Expires');
    if (expires === 0) {
      this.table.remove(account.id, device.id);
      this.log.info('sip unregistered', { account_id: account.id, device_id: device.id });
      return reply(200, 'OK');
    }
    if (expires < this.options.minExpires) {
      return reply(423, 'Interval Too Brief', [['Min-Expires', String(this.options.minExpires)]]);
    }
    expires = Math.min(expires, this.options.maxExpires);
    // A binding outlives its REGISTER: its strings are copied out so that it does not keep the datagram alive.
    const change = this.table.upsert({
      accountId: account.id,
      deviceId: device.id,
      username: detached(username),
      realm: realmFor(account),
      contact: detached(contact.uri),
      source: { ...input.source },
      expiresAt: this.now() + expires * 1000,
      userAgent: input.userAgent === undefined ? undefined : detached(input.userAgent),
    });
    if (change === 'registered') {
      this.log.info('sip registered', { account_id: account.id, device_id: device.id, via: how, source: `${input.source.address}:${input.source.port}`, expires });
    }
    return reply(200, 'OK', [
      ['Contact', `<${contact.uri}>;expires=${expires}`],
      ['Date', new Date(this.now()).toUTCString()],
    ]);
  }

  private expiresOf(param: string | undefined, header: string | undefined): number | undefined {
    const raw = param ?? header;
    if (raw === undefined) return this.options.defaultExpires ?? 3600;
    if (!/^\d{1,10}$/.test(raw.trim())) return undefined;
    return Number(raw.trim());
  }
}

function realmFor(account: AccountDoc): string {
  return account.realm;
}

function isEnabled(ref: DeviceRef): boolean {
  return ref.device.enabled !== false && ref.account.enabled !== false;
}

function remaining(expiresAt: number, now: number): number {
  return Math.max(0, Math.round((expiresAt - now) / 1000));
}

function reply(status: number, reason: string, headers: Array<[string, string]> = []): RegisterDecision {
  return { status, reason, headers };
}

/** Digest uri vs Request-URI: compared as parsed SIP URIs (phones differ in case and param order). */
function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseUri(a);
  const y = parseUri(b);
  if (!x || !y) return false;
  return x.host === y.host && (x.port ?? 5060) === (y.port ?? 5060) && (x.user ?? '') === (y.user ?? '');
}

