import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { readOrCreateKey } from '../store/key-file.js';
import { DatastoreError } from '../store/store.js';
import { RevocationList, RevocationListFullError, type Revocations } from './revocation-list.js';

export { RevocationListFullError };

export interface TokenServiceOptions {
  /** Clock (milliseconds, like Date.now); tests move it by hand. */
  now?: () => number;
  /** Most revoked, unexpired tokens remembered at once. */
  maxRevoked?: number;
  /**
   * A cluster's signing key and revocations, shared by every node (src/cluster/tokens-postgres.ts), instead of
   * DATA_DIR's token.key and revoked-tokens.json: a token issued by one node is good, or revoked, on all.
   */
  shared?: (nowSeconds: () => number, maxRevoked: number) => Promise<{ key: Buffer; revoked: Revocations }>;
}

export interface TokenClaims {
  /** Account the token acts for. */
  account_id: string;
  /** User who authenticated (user_auth), if any. */
  owner_id?: string;
  /** Expiry, unix seconds. */
  exp: number;
  jti: string;
  method: 'api_auth' | 'user_auth';
}

/**
 * Stateless signed tokens (HMAC-SHA256 with a key kept in DATA_DIR), so they survive a restart and need no
 * write per login. Revocation (DELETE /v2/token_auth) is written to DATA_DIR/system/revoked-tokens.json and
 * kept until the token would expire anyway, so it survives a restart too.
 */
export class TokenService {
  private constructor(
    private readonly key: Buffer,
    private readonly ttlSeconds: number,
    private readonly revoked: Revocations,
    private readonly nowSeconds: () => number,
  ) {}

  static async open(dataDir: string, ttlSeconds: number, options: TokenServiceOptions = {}): Promise<TokenService> {
    const now = options.now ?? Date.now;
    const nowSeconds = () => now() / 1000;
    const maxRevoked = options.maxRevoked ?? 50_000;
    if (options.shared) {
      const { key, revoked } = await options.shared(nowSeconds, maxRevoked);
      return new TokenService(key, ttlSeconds, revoked, nowSeconds);
    }
    const key = await readOrCreateKey(path.join(dataDir, 'system', 'token.key'));
    const revoked = await RevocationList.open(path.join(dataDir, 'system', 'revoked-tokens.json'), nowSeconds, maxRevoked);
    return new TokenService(key, ttlSeconds, revoked, nowSeconds);
  }

  issue(claims: Omit<TokenClaims, 'exp' | 'jti'>): { token: string; claims: TokenClaims } {
    const full: TokenClaims = { ...claims, exp: Math.floor(this.nowSeconds()) + this.ttlSeconds, jti: randomBytes(9).toString('base64url') };
    const payload = Buffer.from(JSON.stringify(full)).toString('base64url');
    return { token: `${payload}.${this.sign(payload)}`, claims: full };
  }

  /** The claims of a genuine, unexpired, unrevoked token; undefined otherwise. */
  verify(token: string): TokenClaims | undefined {
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return undefined;
    }
    if (typeof claims.exp !== 'number' || claims.exp <= this.nowSeconds()) return undefined;
    if (this.revoked.has(claims.jti)) return undefined;
    return claims;
  }

  /**
   * Refuses the token from now on; resolves once that is on disk. Rejects with RevocationListFullError (nothing
   * changed) or DatastoreError (refused in memory at once, but a restart may forget it).
   */
  async revoke(claims: TokenClaims): Promise<void> {
    try {
      await this.revoked.add(claims.jti, claims.exp);
    } catch (err) {
      throw err instanceof RevocationListFullError ? err : new DatastoreError(err);
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
