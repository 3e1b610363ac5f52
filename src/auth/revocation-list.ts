import { promises as fs } from 'node:fs';
import { CoalescingWriter, writeFileDurable } from '../store/durable-file.js';

/** Every revocation slot holds a token that has not expired yet: refusing is honest, forgetting one is not. */
export class RevocationListFullError extends Error {
  constructor(max: number) {
    super(`token revocation list is full (${max} unexpired revoked tokens)`);
  }
}

/** Where revoked token ids are kept: a file of this node (RevocationList) or a cluster's table (src/cluster/tokens-postgres.ts). */
export interface Revocations {
  has(jti: string): boolean;
  /** Revokes `jti` (refused here at once) and resolves once that is durable; RevocationListFullError when full. */
  add(jti: string, exp: number): Promise<void>;
}

/**
 * Revoked token ids with their tokens' own expiry, in a small file (`{"<jti>": <exp unix seconds>}`) replaced
 * atomically, so a revocation survives a restart. An entry is dropped once its token would be refused anyway;
 * at most `max` entries (about 30 bytes each on disk).
 */
export class RevocationList implements Revocations {
  private readonly writer = new CoalescingWriter(() => writeFileDurable(this.file, JSON.stringify(Object.fromEntries(this.entries))));

  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, number>,
    private readonly nowSeconds: () => number,
    private readonly max: number,
  ) {}

  static async open(file: string, nowSeconds: () => number, max: number): Promise<RevocationList> {
    const entries = new Map<string, number>();
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        // Refuse to start rather than silently accept every revoked token again.
        throw new Error(`token revocation file ${file} is not valid JSON (${(err as Error).message}); fix or remove it`, { cause: err });
      }
      const now = nowSeconds();
      for (const [jti, exp] of Object.entries(parsed as Record<string, unknown>)) {
        if (typeof exp === 'number' && exp > now) entries.set(jti, exp);
      }
    }
    return new RevocationList(file, entries, nowSeconds, max);
  }

  has(jti: string): boolean {
    const exp = this.entries.get(jti);
    return exp !== undefined && exp > this.nowSeconds();
  }

  /** Revokes `jti` (now, in memory) and resolves once that is on disk. */
  add(jti: string, exp: number): Promise<void> {
    const now = this.nowSeconds();
    for (const [id, e] of this.entries) if (e <= now) this.entries.delete(id);
    if (!this.entries.has(jti) && this.entries.size >= this.max) return Promise.reject(new RevocationListFullError(this.max));
    this.entries.set(jti, exp);
    return this.writer.flush();
  }
}
