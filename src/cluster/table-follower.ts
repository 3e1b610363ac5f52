import type pg from 'pg';
import type { Logger } from '../log.js';
import type { Listener } from './listener.js';
import { readChanges, START, type Cursor } from './change-reader.js';
import { SerialReads } from './serial-reads.js';

/**
 * Follows one shared table (its rows carry `txid`, see change-reader.ts) into a node's memory: the rows as they
 * are at start, then every row another node writes, in commit order — woken by the writers' NOTIFY on `channel`
 * (payload: the writer's node id; its own are skipped), by a reconnect of the listener, and by a slow poll in
 * case a notice was lost. One read runs at a time; a wake-up during a read reads again after it.
 */
export interface TableFollowerOptions<R> {
  pool: pg.Pool;
  listener: Listener;
  nodeId: string;
  log: Logger;
  table: string;
  /** The table's key columns, in primary-key order. */
  keys: readonly string[];
  channel: string;
  /** Rows per read (smaller for tables with large rows). */
  page: number;
  pollMs?: number;
  apply(rows: R[]): void;
}

export class TableFollower<R extends Record<string, unknown>> {
  private cursor: Cursor = START;
  private readonly reads = new SerialReads(
    () => this.read(),
    (err) => this.o.log.warn(`cluster: reading ${this.o.table} failed`, { error: (err as Error).message }),
  );
  private poll?: NodeJS.Timeout;
  private readonly offs: Array<() => void> = [];

  constructor(private readonly o: TableFollowerOptions<R>) {}

  /** Reads the table as it is (rejects if it cannot: a startup error), then follows it. */
  async start(): Promise<void> {
    this.offs.push(
      this.o.listener.on(this.o.channel, (payload) => {
        if (payload !== this.o.nodeId) this.reads.request();
      }),
      this.o.listener.onConnect(() => this.reads.request()),
    );
    // A notice during the first read waits for it (reads never overlap).
    await this.reads.first();
    this.poll = setInterval(() => this.reads.request(), this.o.pollMs ?? 1000);
    this.poll.unref();
  }

  /** Resolves when rows committed before the call have been applied here. */
  async sync(): Promise<void> {
    this.reads.request();
    await this.reads.idle();
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    if (this.poll) clearInterval(this.poll);
    await this.reads.idle();
  }

  private async read(): Promise<void> {
    let cursor = this.cursor;
    for (;;) {
      const page = await readChanges<R>(this.o.pool, this.o.table, this.o.keys, cursor, this.o.page);
      if (page.rows.length) this.o.apply(page.rows);
      cursor = page.next;
      // Applied page by page: a later failure reads again from here, not from the start.
      this.cursor = cursor;
      if (!page.more) break;
    }
  }
}
