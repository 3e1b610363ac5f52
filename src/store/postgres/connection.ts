import pg from 'pg';

/** The URL as it may be shown (logs, errors): without its password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

/** PostgreSQL could not be reached or used; the message names the URL without its password. */
export class DatabaseUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot use PostgreSQL at ${redactedUrl(url)}: ${(cause as Error)?.message || String(cause)}`, { cause });
    this.name = 'DatabaseUnreachableError';
  }
}

/**
 * The pool every write and read goes through. A connection that breaks is dropped and the next query opens a
 * new one, so the pool reconnects by itself once PostgreSQL is back; until then queries fail quickly (the
 * connect timeout) and writes answer 503.
 */
export function createPool(url: string): pg.Pool {
  // The node's one pool (the cluster parts share it): the budget the store's and the cluster's pools had together,
  // so a retry holding a row (StoreBackend.exclusive) never starves the registrations and fetch log of connections.
  const pool = new pg.Pool({ connectionString: url, max: 20, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // An idle connection lost (server restart): the pool drops it; without a listener this would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `work` in one transaction on one connection; rolls back on any error. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
