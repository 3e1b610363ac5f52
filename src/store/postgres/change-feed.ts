import pg from 'pg';
import type { StoredDoc } from '../../domain/types.js';
import { CHANGES_CHANNEL, type ChangeNotice, type DocumentTable } from './documents.js';

/**
 * How far back (in change_seq numbers) a catch-up reads before the highest change seen. Sequence numbers are
 * taken when a write starts and become visible when it commits, so a write can commit after a higher-numbered
 * one; reading a margin back catches those. Re-reading a change already applied is harmless (the store keeps
 * the newer generation).
 */
const CATCH_UP_OVERLAP = 10_000;
const MAX_BACKOFF_MS = 5_000;

export interface ChangeFeedOptions {
  url: string;
  /** This node: its own notices are skipped (its commits are already in memory). */
  node: string;
  table: DocumentTable;
  /** Highest change_seq the store loaded. */
  from: number;
  apply(doc: StoredDoc): void;
  /** Told when the feed (re)connected and caught up: `null`, or why it is down. */
  onState?(error: Error | null): void;
}

/**
 * Other nodes' commits, applied in the order they arrive: a dedicated connection LISTENs on the changes
 * channel, each notice names one document, which is read from the docs table (batched) and applied. When the
 * connection breaks it is re-established with backoff, and a catch-up query by change_seq closes the gap.
 */
export class ChangeFeed {
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private lastSeq: number;
  /** Notices waiting to be read, keyed by document (a burst on one document reads it once). */
  private readonly queued = new Map<string, ChangeNotice>();
  /** Reads and applies run one at a time, in arrival order. */
  private work: Promise<void> = Promise.resolve();
  private caughtUp = false;

  constructor(private readonly options: ChangeFeedOptions) {
    this.lastSeq = options.from;
  }

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    await this.work;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: 5_000, keepAlive: true });
    this.client = client;
    this.caughtUp = false;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      this.options.onState?.(err);
      this.scheduleReconnect();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('change feed connection closed')));
    client.on('notification', (message) => this.onNotification(message.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      fail(err as Error);
      return;
    }
    // Listening now: whatever commits from here on is notified; the catch-up reads what committed before.
    this.enqueue(async () => {
      const rows = await this.options.table.since(Math.max(0, this.lastSeq - CATCH_UP_OVERLAP));
      for (const row of rows) this.applyRow(row.doc, row.seq);
      this.caughtUp = true;
      this.failures = 0;
      await this.readQueued();
      this.options.onState?.(null);
    }, fail);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.failures++);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }

  private onNotification(payload: string | undefined): void {
    let notice: ChangeNotice;
    try {
      notice = JSON.parse(payload ?? '') as ChangeNotice;
    } catch {
      return;
    }
    if (notice.node === this.options.node) {
      this.lastSeq = Math.max(this.lastSeq, notice.seq);
      return;
    }
    this.queued.set(`${notice.type}|${notice.account}|${notice.id}`, notice);
    this.enqueue(() => this.readQueued(), (err) => this.client?.emit('error', err));
  }

  private async readQueued(): Promise<void> {
    if (!this.queued.size || !this.caughtUp) return;
    const notices = [...this.queued.values()];
    this.queued.clear();
    const rows = await this.options.table.some(notices);
    for (const row of rows) this.applyRow(row.doc, row.seq);
    for (const notice of notices) this.lastSeq = Math.max(this.lastSeq, notice.seq);
  }

  private applyRow(doc: StoredDoc, seq: number): void {
    this.lastSeq = Math.max(this.lastSeq, seq);
    try {
      this.options.apply(doc);
    } catch {
      // A listener's fault must not stop the feed; the document is in memory either way.
    }
  }

  /** Runs `job` after the ones before it; a failed read drops the connection, whose catch-up re-reads. */
  private enqueue(job: () => Promise<void>, onError: (err: Error) => void): void {
    this.work = this.work.then(job).catch((err: Error) => onError(err));
  }
}
