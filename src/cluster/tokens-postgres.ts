import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../log.js';
import type { Listener } from './listener.js';
import { TableFollower } from './table-follower.js';
import { RevocationListFullError, type Revocations } from '../auth/revocation-list.js';
import { SecretKeyMismatchError, type SecretBox } from '../store/secret-box.js';

/**
 * API tokens in a cluster: one signing key and one revocation list for every node, in PostgreSQL, so a client
 * behind the load balancer keeps its token whichever node answers, and a token revoked on one node is refused by
 * all of them (each follows the others' revocations through NOTIFY, a catch-up after every reconnect and a poll).
 */
const CHANNEL = 'cluster_revoked_tokens';
const KEY_NAME = 'token_key';
const READ_PAGE = 2000;

/**
 * The cluster's token signing key, created by the first node that asks (INSERT … ON CONFLICT DO NOTHING, then
 * everyone reads the one row), stored sealed with the secrets key so a database dump cannot forge tokens.
 */
export async function sharedTokenKey(pool: pg.Pool, box: Pick<SecretBox, 'seal' | 'open'>): Promise<Buffer> {
  const context = `cluster|${KEY_NAME}`;
  await pool.query('INSERT INTO cluster_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [KEY_NAME, box.seal(randomBytes(32).toString('hex'), context)]);
  const { rows } = await pool.query<{ value: string }>('SELECT value FROM cluster_secrets WHERE name = $1', [KEY_NAME]);
  try {
    return Buffer.from(box.open(rows[0]!.value, context), 'hex');
  } catch (err) {
    if (err instanceof SecretKeyMismatchError) {
      throw new Error('the API token key in PostgreSQL cannot be decrypted with the secrets key file: every node needs the same SECRETS_KEY_FILE', { cause: err });
    }
    throw err;
  }
}

export interface SharedRevocationsOptions {
  pool: pg.Pool;
  listener: Listener;
  nodeId: string;
  log: Logger;
  nowSeconds: () => number;
  /** Most unexpired revocations this node accepts (as the file's list). */
  max: number;
}

interface Row extends Record<string, unknown> {
  jti: string;
  exp: string;
}

/** The revoked tokens of the cluster (cluster_revoked_tokens), mirrored in memory: `has` does no I/O. */
export class SharedRevocations implements Revocations {
  private readonly entries = new Map<string, number>();
  private readonly follower: TableFollower<Row>;

  constructor(private readonly o: SharedRevocationsOptions) {
    this.follower = new TableFollower<Row>({
      ...o,
      table: 'cluster_revoked_tokens',
      keys: ['jti'],
      channel: CHANNEL,
      page: READ_PAGE,
      apply: (rows) => {
        const now = o.nowSeconds();
        for (const row of rows) if (Number(row.exp) > now) this.entries.set(row.jti, Number(row.exp));
      },
    });
  }

  /** Reads what is revoked now, then follows. */
  start(): Promise<void> {
    return this.follower.start();
  }

  has(jti: string): boolean {
    const exp = this.entries.get(jti);
    return exp !== undefined && exp > this.o.nowSeconds();
  }

  async add(jti: string, exp: number): Promise<void> {
    const now = this.o.nowSeconds();
    for (const [id, e] of this.entries) if (e <= now) this.entries.delete(id);
    if (!this.entries.has(jti) && this.entries.size >= this.o.max) throw new RevocationListFullError(this.o.max);
    this.entries.set(jti, exp);
    await this.o.pool.query(
      `WITH up AS (INSERT INTO cluster_revoked_tokens (jti, exp) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING RETURNING 1)
       SELECT pg_notify('${CHANNEL}', $3) FROM up`,
      [jti, Math.ceil(exp), this.o.nodeId],
    );
    // Rows of tokens that would be refused anyway go (the table stays as small as the lists in memory).
    await this.o.pool.query('DELETE FROM cluster_revoked_tokens WHERE exp <= $1', [Math.floor(now)]).catch(() => undefined);
  }

  /** Resolves when revocations committed before the call are known here (tests). */
  sync(): Promise<void> {
    return this.follower.sync();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }
}
