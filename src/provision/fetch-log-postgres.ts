import type pg from 'pg';
import type { Listener } from '../cluster/listener.js';
import type { Logger } from '../log.js';
import { readChanges, START, type Cursor } from '../cluster/change-reader.js';
import { FetchLog } from './fetch-log.js';

/**
 * The last-fetch records of a cluster, in `cluster_last_fetch` instead of files under DATA_DIR. The hot path is the
 * embedded one unchanged (in memory, no I/O): what changed is upserted in batches by the writer pass, and what other
 * nodes wrote is read back through the change feed and updated in place (a held entry stays the live one), so a
 * device's `_read_only.provisioning.last_fetch` is the same on every node within a flush and a poll. A phone polling
 * with nothing new but the time re-persists at most every `minPersistSeconds` (5 s here, not the files' 5 min:
 * an UPDATE does not grow a journal).
 */
const CHANNEL = 'cluster_last_fetch';
const WRITE_BATCH = 500;
const READ_PAGE = 2000;

interface Row extends Record<string, unknown> {
  device_id: string;
  account_id: string;
  time: string;
  address: string;
  user_agent: string;
  file: string;
  vendor: string;
  model: string | null;
  node_id: string;
}

export interface SharedFetchLogOptions {
  pool: pg.Pool;
  listener: Listener;
  nodeId: string;
  log: Logger;
  flushMs?: number;
  minPersistSeconds?: number;
  pollMs?: number;
}

export class SharedFetchLog extends FetchLog {
  private cursor: Cursor = START;
  private reading?: Promise<void>;
  private readAgain = false;
  private poll?: NodeJS.Timeout;
  private readonly offs: Array<() => void> = [];
  private failing = false;

  constructor(private readonly o: SharedFetchLogOptions) {
    super('', o.log, o.flushMs ?? 200, o.minPersistSeconds ?? 5);
  }

  override async load(exists?: (accountId: string, deviceId: string) => boolean): Promise<void> {
    this.offs.push(
      this.o.listener.on(CHANNEL, (payload) => {
        if (payload !== this.o.nodeId) this.catchUp();
      }),
      this.o.listener.onConnect(() => this.catchUp()),
    );
    await this.read(exists);
    this.poll = setInterval(() => this.catchUp(), this.o.pollMs ?? 1000);
    this.poll.unref();
  }

  /** Resolves when changes committed before the call have been applied here (tests). */
  async sync(): Promise<void> {
    this.catchUp();
    while (this.reading) await this.reading;
  }

  /** Writes what changed since the last pass (the writer runs one pass at a time). */
  protected override async persist(): Promise<void> {
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty];
    this.dirty = new Set();
    try {
      for (let i = 0; i < batch.length; i += WRITE_BATCH) await this.write(batch.slice(i, i + WRITE_BATCH));
      this.failing = false;
    } catch (err) {
      // Kept for the next pass (rearmed here: a failed pass schedules none by itself).
      for (const id of batch) this.dirty.add(id);
      if (!this.failing) this.o.log.warn('provisioning: writing last-fetch records failed, will retry', { error: (err as Error).message });
      this.failing = true;
      const first = batch[0];
      if (first !== undefined) this.markDirty(first);
    }
  }

  private async write(ids: string[]): Promise<void> {
    const up = { d: [] as string[], a: [] as string[], t: [] as number[], ad: [] as string[], ua: [] as string[], f: [] as string[], v: [] as string[], m: [] as (string | null)[] };
    const gone: string[] = [];
    const now = Date.now();
    for (const id of ids) {
      const e = this.entries.get(id);
      if (!e) {
        gone.push(id);
        continue;
      }
      e.persistedAt = now;
      up.d.push(id);
      up.a.push(e.accountId);
      up.t.push(e.time);
      up.ad.push(e.address);
      up.ua.push(e.user_agent);
      up.f.push(e.file);
      up.v.push(e.vendor);
      up.m.push(e.model ?? null);
    }
    if (up.d.length > 0) {
      await this.o.pool.query(
        `WITH up AS (
           INSERT INTO cluster_last_fetch AS t (device_id, account_id, time, address, user_agent, file, vendor, model, node_id)
           SELECT d, a, tm, ad, ua, f, v, m, $9 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
             AS x(d, a, tm, ad, ua, f, v, m)
           ON CONFLICT (device_id) DO UPDATE SET account_id = EXCLUDED.account_id, time = EXCLUDED.time, address = EXCLUDED.address,
             user_agent = EXCLUDED.user_agent, file = EXCLUDED.file, vendor = EXCLUDED.vendor, model = EXCLUDED.model,
             node_id = EXCLUDED.node_id, txid = pg_current_xact_id()
           WHERE t.time <= EXCLUDED.time
           RETURNING 1)
         SELECT pg_notify('${CHANNEL}', $9) FROM (SELECT count(*) AS n FROM up) c WHERE c.n > 0`,
        [up.d, up.a, up.t, up.ad, up.ua, up.f, up.v, up.m, this.o.nodeId],
      );
    }
    if (gone.length > 0) await this.o.pool.query('DELETE FROM cluster_last_fetch WHERE device_id = ANY($1::text[])', [gone]);
  }

  /** No snapshot file in the shared log: the table is the snapshot. */
  protected override async compact(): Promise<void> {}

  override async close(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    if (this.poll) clearInterval(this.poll);
    await this.reading?.catch(() => undefined);
    await super.close();
  }

  private catchUp(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.read()
      .catch((err: unknown) => this.o.log.warn('provisioning: reading last-fetch records failed', { error: (err as Error).message }))
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          this.catchUp();
        }
      });
  }

  private async read(exists?: (accountId: string, deviceId: string) => boolean): Promise<void> {
    let cursor = this.cursor;
    for (;;) {
      const page = await readChanges<Row>(this.o.pool, 'cluster_last_fetch', ['device_id'], cursor, READ_PAGE);
      for (const row of page.rows) this.applyRow(row, exists);
      cursor = page.next;
      this.cursor = cursor;
      if (!page.more) break;
    }
  }

  /** Another node's record (or ours, at startup), applied in place unless ours is newer or still unwritten. */
  private applyRow(row: Row, exists?: (accountId: string, deviceId: string) => boolean): void {
    const id = row.device_id;
    if (this.dirty.has(id)) return;
    if (exists && !exists(row.account_id, id)) return;
    const time = Number(row.time);
    const e = this.entries.get(id);
    if (e && e.time > time) return;
    const fields = { time, address: row.address, user_agent: row.user_agent, file: row.file, vendor: row.vendor, model: row.model ?? undefined, accountId: row.account_id };
    if (e) Object.assign(e, fields, { persistedAt: Date.now() });
    else this.entries.set(id, { ...fields, persistedAt: Date.now() });
  }
}
