import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { CoalescingWriter, writeFileDurable } from '../store/durable-file.js';

/** The journal is folded into the snapshot once it has more lines than this, or than there are entries. */
const COMPACT_AFTER_LINES = 10_000;

/**
 * Last config fetch per device (time, address, User-Agent, file, vendor/model seen). Recorded in memory on the hot
 * path (one object store); persisted off it: changed entries are appended to a journal by a coalescing writer
 * on a timer, and the journal is folded into a snapshot at startup, at shutdown and once it outgrows the entries.
 * An entry whose only change is its time is re-persisted at most every `minPersistSeconds` (phones poll often; the
 * journal must not grow per fetch). A forgotten device (deleted) is journalled as a tombstone line, so that a restart
 * after a crash does not bring its entry back from an older journal line or the snapshot.
 */

export interface FetchRecord {
  time: number; // Unix ms
  address: string;
  user_agent: string;
  file: string;
  vendor: string;
  model?: string;
}

export interface FetchLogEntry extends FetchRecord {
  accountId: string;
  persistedAt: number;
}
type Entry = FetchLogEntry;

export class FetchLog {
  protected readonly entries = new Map<string, Entry>();
  protected dirty = new Set<string>();
  /** While set (the rehearsal before the port opens, rehearsal.ts), fetches are answered but not logged: none was a phone's. */
  muted = false;
  /** Lines appended to the journal since the last snapshot: past a threshold the journal is folded in. */
  private journalLines = 0;
  private readonly writer: CoalescingWriter;
  private timer: NodeJS.Timeout | undefined;
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly log: Logger,
    private readonly flushMs = 2000,
    private readonly minPersistSeconds = 300,
    private readonly compactAfterLines = COMPACT_AFTER_LINES,
  ) {
    this.dir = path.join(dataDir, 'provisioning');
    this.writer = new CoalescingWriter(() => this.persist());
  }

  private get snapshotFile() {
    return path.join(this.dir, 'last-fetch.json');
  }
  private get journalFile() {
    return path.join(this.dir, 'last-fetch.journal');
  }

  /**
   * Reads the snapshot and journal back. `exists` (when given) says whether an entry's device is still there:
   * a device deleted less than a flush before a crash has no tombstone yet, and its entry is dropped here instead.
   */
  async load(exists?: (accountId: string, deviceId: string) => boolean): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const snapshot = await fs.readFile(this.snapshotFile, 'utf8').catch(() => undefined);
    if (snapshot) {
      try {
        for (const [id, raw] of Object.entries(JSON.parse(snapshot) as Record<string, unknown>)) this.restore(id, raw);
      } catch (err) {
        this.log.warn('provisioning: unreadable last-fetch snapshot ignored', { err });
      }
    }
    const journal = await fs.readFile(this.journalFile, 'utf8').catch(() => '');
    for (const line of journal.split('\n')) {
      if (!line) continue;
      try {
        const raw = JSON.parse(line) as { id?: unknown; forgotten?: unknown };
        if (typeof raw.id !== 'string') continue;
        if (raw.forgotten === true) this.entries.delete(raw.id);
        else this.restore(raw.id, raw);
      } catch {
        // A torn last line after a crash: everything before it is intact.
      }
    }
    let gone = 0;
    if (exists) {
      for (const [id, entry] of this.entries) {
        if (!exists(entry.accountId, id)) {
          this.entries.delete(id);
          gone++;
        }
      }
    }
    if (journal || gone) await this.compact();
  }

  /**
   * An entry read back from disk, rebuilt field by field: a file edited by hand cannot put odd types into it, and
   * every entry has the one shape record() creates (mixed shapes would make the hot path's field reads slower).
   */
  private restore(id: string, raw: unknown): void {
    if (!raw || typeof raw !== 'object') return;
    const r = raw as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    if (typeof r.time !== 'number') return;
    this.entries.set(id, {
      time: r.time,
      address: text(r.address),
      user_agent: text(r.user_agent),
      file: text(r.file),
      vendor: text(r.vendor),
      model: typeof r.model === 'string' ? r.model : undefined,
      accountId: text(r.accountId),
      persistedAt: typeof r.persistedAt === 'number' ? r.persistedAt : 0,
    });
  }

  /**
   * Hot path, the common case (a phone polling): the same address, User-Agent and file as its last fetch, persisted
   * recently. Updates the time in place and returns true; false means the caller must `record` the full entry.
   * Takes the fields as arguments so that this case allocates nothing.
   */
  touch(deviceId: string, time: number, address: string, userAgent: string, file: string): boolean {
    if (this.muted) return true;
    const prev = this.entries.get(deviceId);
    return prev !== undefined && this.touchEntry(prev, time, address, userAgent, file);
  }

  /**
   * The same test on an entry already in hand (a kept answer holds its device's entry): no lookup at all.
   * Entries are updated in place for as long as the device is known, so a held entry stays the live one.
   */
  touchEntry(entry: Readonly<FetchRecord>, time: number, address: string, userAgent: string, file: string): boolean {
    if (this.muted) return true;
    const e = entry as Entry;
    if (e.address !== address || e.user_agent !== userAgent || e.file !== file || time - e.persistedAt > this.minPersistSeconds * 1000) {
      return false;
    }
    e.time = time;
    return true;
  }

  /** Hot path: no I/O. */
  record(accountId: string, deviceId: string, rec: FetchRecord): void {
    const prev = this.entries.get(deviceId);
    // The common case (a phone polling): the time moves in place, nothing to persist yet.
    if (prev && this.touchEntry(prev, rec.time, rec.address, rec.user_agent, rec.file)) return;
    if (prev) {
      // In place, not replaced: whoever holds this device's entry keeps holding the live one.
      prev.time = rec.time;
      prev.address = rec.address;
      prev.user_agent = rec.user_agent;
      prev.file = rec.file;
      prev.vendor = rec.vendor;
      prev.model = rec.model;
      prev.accountId = accountId;
    } else {
      const { time, address, user_agent, file, vendor, model } = rec;
      this.entries.set(deviceId, { time, address, user_agent, file, vendor, model, accountId, persistedAt: 0 });
    }
    this.markDirty(deviceId);
  }

  protected markDirty(deviceId: string): void {
    this.dirty.add(deviceId);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.writer.flush().catch((err) => this.log.error('provisioning: last-fetch journal write failed', { err }));
    }, this.flushMs).unref();
  }

  /** The live record (read-only for callers): no copy, this is on the hot path. */
  peek(deviceId: string): Readonly<FetchRecord> | undefined {
    return this.entries.get(deviceId);
  }

  get(deviceId: string): FetchRecord | undefined {
    const e = this.entries.get(deviceId);
    if (!e) return undefined;
    const { accountId: _a, persistedAt: _p, ...rec } = e;
    return rec;
  }

  /** Drops the device's entry, on disk too: the next journal pass writes its tombstone. */
  forget(deviceId: string): void {
    const e = this.entries.get(deviceId);
    if (!e) return;
    this.entries.delete(deviceId);
    // Whoever still holds the entry (a kept answer) must not touch it as if live: it takes no touch from now on,
    // so the holder records afresh (a new live entry) instead of updating one nothing reads.
    e.persistedAt = Number.NEGATIVE_INFINITY;
    this.markDirty(deviceId);
  }

  /** One writer pass: append what changed, and fold the journal into the snapshot once it outgrows it. */
  protected async persist(): Promise<void> {
    await this.appendDirty();
    if (this.journalLines > Math.max(this.compactAfterLines, this.entries.size)) await this.compact();
  }

  private async appendDirty(): Promise<void> {
    if (this.dirty.size === 0) return;
    // Swapped, not copied: a boot storm dirties up to every device at once.
    const batch = this.dirty;
    this.dirty = new Set();
    const now = Date.now();
    // In slices of bytes, yielding between them: serialising thousands of entries in one go would stall phone
    // requests, and strings kept across the awaits would be promoted garbage for the old generation.
    let text = '';
    let lines = 0;
    for (const id of batch) {
      const e = this.entries.get(id);
      if (e) {
        e.persistedAt = now;
        text += `${JSON.stringify({ id, ...e })}\n`;
      } else {
        // Forgotten: earlier journal lines (and the snapshot) still hold it until the next fold; this line wins on load.
        text += `${JSON.stringify({ id, forgotten: true })}\n`;
      }
      if (++lines === 500) {
        await this.append(Buffer.from(text), lines);
        text = '';
        lines = 0;
      }
    }
    if (lines > 0) await this.append(Buffer.from(text), lines);
  }

  private async append(bytes: Buffer, lines: number): Promise<void> {
    this.journalLines += lines;
    await fs.appendFile(this.journalFile, bytes, { mode: 0o600 });
  }

  /**
   * Snapshot of every entry, written in chunks (100k devices make a 20 MB document), then the journal goes. Runs
   * inside the writer, so no append interleaves; entries changed meanwhile are dirty and land in the next journal.
   */
  protected async compact(): Promise<void> {
    const entries = this.entries;
    async function* chunks(): AsyncGenerator<string> {
      let text = '{';
      let n = 0;
      for (const [id, e] of entries) {
        text += `${n === 0 ? '' : ','}${JSON.stringify(id)}:${JSON.stringify(e)}`;
        if (++n % 1000 === 0) {
          yield text;
          text = '';
        }
      }
      yield `${text}}`;
    }
    await writeFileDurable(this.snapshotFile, chunks());
    await fs.rm(this.journalFile, { force: true });
    this.journalLines = 0;
  }

  /** Resolves once what was recorded so far is persisted (tests, a cluster's hand-over). */
  async flush(): Promise<void> {
    await this.writer.flush();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writer.flush();
    await this.compact();
  }
}
