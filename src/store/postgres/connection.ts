import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { AdmissionGate } from './admission.js';

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

/** How the node's pool is sized; the defaults are production's, tests make it small. */
export interface PoolSettings {
  /** Connections the pool opens at most (admitted operations plus the reserve). Default 20. */
  max?: number;
  /** Connections kept for code that already holds one (see GatedPool). Default 2, at most max - 1. */
  reserve?: number;
  /** How long opening a connection to PostgreSQL may take. Default 5 s. */
  connectionTimeoutMillis?: number;
  /** Operations that may wait for admission before new ones are refused (AdmissionQueueFull). Default 10,000. */
  queueLimit?: number;
}

/**
 * The pool every write and read goes through, behind its admission gate (GatedPool): a burst larger than the pool
 * waits its turn instead of timing out. A connection that breaks is dropped and the next query opens a new one,
 * so the pool reconnects by itself once PostgreSQL is back; until then queries fail quickly (refused, or the
 * connect timeout, and what waits in the gate fails with them) and writes answer 503.
 */
export function createPool(url: string, settings: PoolSettings = {}): GatedPool {
  // The node's one pool (the cluster parts share it): the budget the store's and the cluster's pools had together,
  // so a retry holding a row (StoreBackend.exclusive) never starves the registrations and fetch log of connections.
  const pool = new GatedPool({
    connectionString: url,
    max: settings.max ?? 20,
    reserve: settings.reserve,
    queueLimit: settings.queueLimit,
    connectionTimeoutMillis: settings.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection lost (server restart): the pool drops it; without a listener this would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Code running while it holds a connection (see GatedPool.holding); `held` turns false once it is released. */
const holdingContext = new AsyncLocalStorage<{ readonly held: boolean }>();

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * pg.Pool behind an AdmissionGate (./admission.ts, which says why): every connection taken from it, by
 * `connect()` and by `query()` (pg-pool's query takes its client through `this.connect`, so it is gated too),
 * first waits for admission; the slot is freed when the client is released. Everything that uses the node's pool
 * (store, change feed reads, cluster) is therefore gated without knowing it.
 *
 * Nested acquisition: code that holds a connection and asks for another must not wait in the admission queue
 * behind operations that wait for the slot it holds: with every slot held by such code, nothing would ever be
 * released (a deadlock, and our queue has no timeout). The one such code is StoreBackend.exclusive: it holds a row
 * locked on one connection while the Store's read-merge-write runs, and that code may ask the pool for more (a
 * re-read of another document after a lost race, a cluster query). It runs inside `holding(...)`: a connection
 * asked for there, while the hold's own is taken, skips the gate and is taken from pg directly, out of the
 * `reserve` connections the gate never admits into (the gate admits `max - reserve`). If more nested requests than
 * the reserve run at once, the extra ones wait in pg's own queue under the connect timeout: they may fail then,
 * but they cannot deadlock. (Today the read-merge-write's first write is the held document's, which ends the
 * hold; what it writes afterwards, e.g. the phones re-saved after their line changed, is gated as usual. A write of
 * another document made while holding would also wait for that document's earlier writes (PostgresBackend.inOrder),
 * which are gated: keep such writes out of holds.) inTransaction and the other users of `connect()` only query the
 * client they took, so they hold one connection and need nothing else from the pool.
 */
export class GatedPool extends pg.Pool {
  readonly gate: AdmissionGate;

  constructor(config: pg.PoolConfig & { max: number; reserve?: number; queueLimit?: number }) {
    const { reserve, queueLimit, ...pgConfig } = config;
    super(pgConfig);
    const kept = Math.min(Math.max(0, reserve ?? 2), config.max - 1);
    this.gate = new AdmissionGate({ limit: Math.max(1, config.max - kept), queueLimit });
  }

  connect(): Promise<pg.PoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    const connected = holdingContext.getStore()?.held ? super.connect() : this.admitted();
    if (!callback) return connected;
    connected.then(
      (client) => callback(undefined, client, (err) => client.release(err as Error | boolean | undefined)),
      (err: Error) => callback(err, undefined, () => undefined),
    );
  }

  /**
   * Runs `work` as code that holds a connection while `lease.held` (the caller turns it false when it releases
   * that connection): connections `work` asks for meanwhile come from the reserve, not through the queue.
   */
  holding<T>(lease: { readonly held: boolean }, work: () => Promise<T>): Promise<T> {
    return holdingContext.run(lease, work);
  }

  private async admitted(): Promise<pg.PoolClient> {
    const { value: client, release: free } = await this.gate.admit(() => super.connect());
    const release = client.release;
    let released = false;
    client.release = (err?: Error | boolean) => {
      if (released) return release(err); // pg throws on a double release, as without the gate
      released = true;
      try {
        release(err);
      } finally {
        free();
      }
    };
    return client;
  }
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
