import type pg from 'pg';
import type { Listener } from './listener.js';
import type { Logger } from '../log.js';
import type { RegistrationChange, RegistrationTable } from '../sip/registry.js';
import type { Registration } from '../sip/service.js';
import { readChanges, START, type Cursor } from './change-reader.js';
import { SerialReads } from './serial-reads.js';

/**
 * The embedded registrar's bindings, shared through PostgreSQL. Each node keeps answering from its in-memory
 * RegistrationTable (no request waits for the database); this mirrors that table into `cluster_registrations`
 * and back:
 *  - a binding made here (a REGISTER this node answered) is written, coalesced per device and batched, with this
 *    node as its owner; an unregistration is written as a tombstone (expires_at = its time) so that other nodes see it;
 *  - bindings written by other nodes are applied to the local table, marked with their owner (`node`), so that
 *    `/devices/status` and `_read_only` answer the same here as there;
 *  - after every (re)connection the whole table is read again and remote bindings no longer there are dropped.
 * Of two REGISTERs of one phone through two nodes, the later one (registered_at) wins in the database.
 * Expired rows are deleted in bounded batches by whichever node prunes first.
 */
const CHANNEL = 'cluster_registrations';
const WRITE_BATCH = 500;
const READ_PAGE = 1000;
const PRUNE_BATCH = 1000;
/** Tombstones and expired rows stay this long, so that a node reading a little late still sees them. */
const PRUNE_GRACE_MS = 5 * 60_000;

interface Row extends Record<string, unknown> {
  account_id: string;
  device_id: string;
  username: string;
  realm: string;
  contact: string;
  source_address: string;
  source_port: number;
  expires_at: string;
  registered_at: string;
  user_agent: string | null;
  node_id: string;
}

type Pending = { registration: Registration; at: number } | { tombstone: { accountId: string; deviceId: string }; at: number };

export interface SharedRegistrationsOptions {
  pool: pg.Pool;
  listener: Listener;
  table: RegistrationTable;
  nodeId: string;
  log: Logger;
  now?: () => number;
  /** How long a local change may wait to be batched with others (default 10 ms). */
  flushMs?: number;
  /** Catch-up read even without a notification (a change held back by a long transaction); default 1 s. */
  pollMs?: number;
  pruneMs?: number;
}

const keyOf = (accountId: string, deviceId: string) => `${accountId}\u0000${deviceId}`;

export class SharedRegistrations {
  private readonly pending = new Map<string, Pending>();
  private applying = false;
  private cursor: Cursor = START;
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly reads = new SerialReads(
    () => this.read(),
    (err) => this.o.log.warn('cluster: reading registrations failed', { error: (err as Error).message }),
  );
  private fullReload = true;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly offs: Array<() => void> = [];
  private readonly now: () => number;
  private failing = false;

  constructor(private readonly o: SharedRegistrationsOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Reads every shared binding, then follows changes. */
  async start(): Promise<void> {
    this.offs.push(this.o.table.onChange((r, change) => this.onLocalChange(r, change)));
    this.offs.push(
      this.o.listener.on(CHANNEL, (payload) => {
        if (payload !== this.o.nodeId) this.reads.request();
      }),
    );
    this.offs.push(
      this.o.listener.onConnect(() => {
        this.fullReload = true;
        this.reads.request();
      }),
    );
    // A notice during the first read waits for it (reads never overlap).
    await this.reads.first();
    const poll = setInterval(() => this.reads.request(), this.o.pollMs ?? 1000);
    const prune = setInterval(() => void this.prune().catch(() => undefined), this.o.pruneMs ?? 30_000);
    poll.unref();
    prune.unref();
    this.timers.push(poll, prune);
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.reads.idle();
    await this.flush().catch(() => undefined);
  }

  /** Local writes not yet in the database (tests, diagnostics). */
  get unflushed(): number {
    return this.pending.size;
  }

  /** Resolves when what was registered here so far is in the database. */
  async flush(): Promise<void> {
    while (this.pending.size > 0 || this.flushing) {
      this.flushing ??= this.writeBatch().finally(() => {
        this.flushing = undefined;
      });
      await this.flushing;
    }
  }

  /** Resolves when changes committed before the call have been applied here. */
  async sync(): Promise<void> {
    this.reads.request();
    await this.reads.idle();
  }

  /** This node took the binding over (registration-ownership.ts): the local copy says so, without an echo. */
  adopt(registration: Registration): void {
    this.apply(() => this.o.table.upsert({ ...registration, node: this.o.nodeId }));
  }

  private onLocalChange(r: Registration, change: RegistrationChange): void {
    this.o.log.debug('cluster: table change', { device_id: r.deviceId, change, node: r.node, applying: this.applying });
    if (this.applying) return;
    if (r.node !== undefined && r.node !== this.o.nodeId) return;
    const key = keyOf(r.accountId, r.deviceId);
    if (change === 'registered' || change === 'refreshed') this.pending.set(key, { registration: r, at: this.now() });
    else if (change === 'unregistered') this.pending.set(key, { tombstone: { accountId: r.accountId, deviceId: r.deviceId }, at: this.now() });
    else return; // expired or dropped: every node decides that for itself from the same facts
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush().catch(() => undefined);
    }, this.o.flushMs ?? 10);
    this.flushTimer.unref?.();
  }

  private async writeBatch(): Promise<void> {
    const batch = [...this.pending.entries()].slice(0, WRITE_BATCH);
    for (const [key] of batch) this.pending.delete(key);
    const cols = { a: [] as string[], d: [] as string[], u: [] as string[], r: [] as string[], c: [] as string[], sa: [] as string[], sp: [] as number[], e: [] as number[], at: [] as number[], ua: [] as (string | null)[] };
    for (const [, p] of batch) {
      if ('registration' in p) {
        const r = p.registration;
        cols.a.push(r.accountId);
        cols.d.push(r.deviceId);
        cols.u.push(r.username);
        cols.r.push(r.realm);
        cols.c.push(r.contact);
        cols.sa.push(r.source.address);
        cols.sp.push(r.source.port);
        cols.e.push(r.expiresAt);
        cols.ua.push(r.userAgent ?? null);
      } else {
        cols.a.push(p.tombstone.accountId);
        cols.d.push(p.tombstone.deviceId);
        cols.u.push('');
        cols.r.push('');
        cols.c.push('');
        cols.sa.push('');
        cols.sp.push(0);
        cols.e.push(p.at); // gone from that moment on; the row stays for PRUNE_GRACE_MS so late readers see it
        cols.ua.push(null);
      }
      cols.at.push(p.at);
    }
    try {
      await this.o.pool.query(
        `WITH up AS (
           INSERT INTO cluster_registrations AS t
             (account_id, device_id, username, realm, contact, source_address, source_port, expires_at, registered_at, user_agent, node_id)
           SELECT a, d, u, r, c, sa, sp, e, at, ua, $11 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::bigint[], $10::text[])
             AS x(a, d, u, r, c, sa, sp, e, at, ua)
           ON CONFLICT (account_id, device_id) DO UPDATE SET
             username = EXCLUDED.username, realm = EXCLUDED.realm, contact = EXCLUDED.contact,
             source_address = EXCLUDED.source_address, source_port = EXCLUDED.source_port, expires_at = EXCLUDED.expires_at,
             registered_at = EXCLUDED.registered_at, user_agent = EXCLUDED.user_agent, node_id = EXCLUDED.node_id,
             txid = pg_current_xact_id()
           WHERE t.registered_at <= EXCLUDED.registered_at
           RETURNING 1)
         SELECT pg_notify('${CHANNEL}', $11) FROM (SELECT count(*) AS n FROM up) c WHERE c.n > 0`,
        [cols.a, cols.d, cols.u, cols.r, cols.c, cols.sa, cols.sp, cols.e, cols.at, cols.ua, this.o.nodeId],
      );
      if (this.failing) this.o.log.info('cluster: registrations written again');
      this.failing = false;
    } catch (err) {
      // Put back what no newer change replaced, and try again a little later.
      for (const [key, p] of batch) if (!this.pending.has(key)) this.pending.set(key, p);
      if (!this.failing) this.o.log.warn('cluster: writing registrations failed, will retry', { error: (err as Error).message });
      this.failing = true;
      await new Promise((resolve) => setTimeout(resolve, 500).unref());
      throw err;
    }
  }

  private async read(): Promise<void> {
    const full = this.fullReload;
    this.fullReload = false;
    let cursor = full ? START : this.cursor;
    const seen = full ? new Set<string>() : undefined;
    try {
      for (;;) {
        const page = await readChanges<Row>(this.o.pool, 'cluster_registrations', ['account_id', 'device_id'], cursor, READ_PAGE);
        for (const row of page.rows) {
          seen?.add(keyOf(row.account_id, row.device_id));
          this.applyRow(row, full);
        }
        cursor = page.next;
        if (!page.more) break;
      }
    } catch (err) {
      if (full) this.fullReload = true;
      throw err;
    }
    this.cursor = cursor;
    if (seen) {
      // Bindings learnt from other nodes that the database no longer has (pruned while we were away).
      for (const r of this.o.table.all()) {
        if (r.node !== undefined && r.node !== this.o.nodeId && !seen.has(keyOf(r.accountId, r.deviceId))) {
          this.apply(() => this.o.table.remove(r.accountId, r.deviceId, 'unregistered'));
        }
      }
    }
  }

  private applyRow(row: Row, full: boolean): void {
    const key = keyOf(row.account_id, row.device_id);
    if (this.pending.has(key)) return; // our own newer change is on its way; it decides
    // Our own writes come back too: already in the table, except at startup (a restart with the same NODE_ID).
    if (row.node_id === this.o.nodeId && !full) return;
    const expiresAt = Number(row.expires_at);
    const local = this.o.table.get(row.account_id, row.device_id);
    if (expiresAt <= this.now()) {
      // Gone (unregistered or expired). The row is the newest word on this phone (the later REGISTER wins in
      // the database, and a newer one of ours would still be pending): our copy goes, whoever made it.
      if (local) this.apply(() => this.o.table.remove(row.account_id, row.device_id, 'unregistered'));
      return;
    }
    const registration: Registration = {
      accountId: row.account_id,
      deviceId: row.device_id,
      username: row.username,
      realm: row.realm,
      contact: row.contact,
      source: { address: row.source_address, port: row.source_port },
      expiresAt,
      userAgent: row.user_agent ?? undefined,
      node: row.node_id,
    };
    this.apply(() => this.o.table.upsert(registration));
    this.o.log.debug('cluster: binding learnt', { account_id: row.account_id, device_id: row.device_id, node: row.node_id, kept: this.o.table.get(row.account_id, row.device_id) !== undefined });
  }

  private apply(fn: () => void): void {
    this.applying = true;
    try {
      fn();
    } finally {
      this.applying = false;
    }
  }

  /** Deletes expired rows and old tombstones, at most PRUNE_BATCH per call. */
  async prune(): Promise<number> {
    const { rowCount } = await this.o.pool.query(
      `DELETE FROM cluster_registrations WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM cluster_registrations WHERE expires_at < $1 LIMIT ${PRUNE_BATCH}))`,
      [this.now() - PRUNE_GRACE_MS],
    );
    return rowCount ?? 0;
  }
}
