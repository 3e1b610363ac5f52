import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

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
 * write per login. Revocation (DELETE /v2/token_auth) keeps the revoked ids until they would expire anyway.
 */
export class TokenService {
  private readonly revoked = new Map<string, number>();

  private constructor(
    private readonly key: Buffer,
    private readonly ttlSeconds: number,
  ) {}

  static async open(dataDir: string, ttlSeconds: number): Promise<TokenService> {
    const file = path.join(dataDir, 'system', 'token.key');
    let key: Buffer;
    try {
      key = Buffer.from(await fs.readFile(file, 'utf8'), 'hex');
      if (key.length < 32) throw new Error(`token key ${file} is too short`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      key = randomBytes(32);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, key.toString('hex'), { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
        key = Buffer.from(await fs.readFile(file, 'utf8'), 'hex');
      });
    }
    return new TokenService(key, ttlSeconds);
  }

  issue(claims: Omit<TokenClaims, 'exp' | 'jti'>): { token: string; claims: TokenClaims } {
    const full: TokenClaims = { ...claims, exp: Math.floor(Date.now() / 1000) + this.ttlSeconds, jti: randomBytes(9).toString('base64url') };
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
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return undefined;
    if (this.revoked.has(claims.jti)) return undefined;
    return claims;
  }

  revoke(claims: TokenClaims): void {
    const now = Date.now() / 1000;
    for (const [jti, exp] of this.revoked) if (exp <= now) this.revoked.delete(jti);
    this.revoked.set(claims.jti, claims.exp);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
