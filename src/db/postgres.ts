import pg from 'pg';

/**
 * The one way this project connects to PostgreSQL (DATABASE_URL): a pool, a URL fit for messages, and a clear
 * error when the server cannot be reached. Shared by the document store and the cluster tables, so that one
 * process holds one pool and one set of connection settings.
 */

/** The URL with its password (and any password= parameter) removed: safe in logs, errors and answers. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/** PostgreSQL could not be reached or refused us; the message names the URL without its password. */
export class DatabaseUnavailableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`PostgreSQL at ${redactUrl(url)} is unreachable: ${describe(cause)}`);
    this.name = 'DatabaseUnavailableError';
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string };
  return [e.code, e.message].filter(Boolean).join(' ') || String(err);
}

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /** Shown in pg_stat_activity: which node and part holds the connection. */
  applicationName?: string;
  /** Give up connecting after this long (default 5 s): a hung server must not hang startup or a request. */
  connectTimeoutMs?: number;
}

/**
 * A pool on `url`, checked with one round trip before it is handed out (an unreachable server is a startup
 * error, not a first request's 500). Errors of idle connections (server restarted, network cut) are logged by
 * the caller's `onError` and do not crash the process: the pool opens new connections on the next query.
 */
export async function openPool(url: string, options: PoolOptions = {}, onError?: (err: Error) => void): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'provisioner',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) => onError?.(err));
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new DatabaseUnavailableError(url, err);
  }
  return pool;
}

/** A single connection outside the pool (LISTEN needs one that stays open). */
export function newClient(url: string, applicationName = 'provisioner-listen'): pg.Client {
  return new pg.Client({ connectionString: url, application_name: applicationName, connectionTimeoutMillis: 5000 });
}
