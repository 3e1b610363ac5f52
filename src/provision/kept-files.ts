import { performance } from 'node:perf_hooks';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { writeFileDurable } from '../store/durable-file.js';
import type { LayerName } from './templates.js';
import type { Wire } from './wire.js';

/**
 * Rendered per-device files kept on disk (DATA_DIR/rendered/), so that after a restart a phone's first fetch is a
 * read, not a render. Each file is kept with the fingerprint it was rendered for (src/provision/file-fingerprint.ts)
 * and served only when that still matches; a missing, unreadable or stale entry is simply rendered again.
 *
 * Layout: 256 bucket files (a device's files share one), each `KPF2`, a header length, a JSON header (key,
 * fingerprint, metadata, wire layout, offset and length of every entry) and the entries. An entry is the file's
 * whole keep-alive answer (wire.ts: head, Date slot, body), so what is opened is served as is: no copy, no header
 * building, one buffer per file. A bucket is rewritten whole with the store's durable write under a new
 * generation name (its unchanged entries streamed from the old file), then the in-memory index switches to it, so a reader always
 * reads a complete file at the offsets of its own index. Writes are batched: a bucket is rewritten once its
 * pending changes have been quiet for `delayMs` or too many bytes are pending, not once per render.
 * Bodies carry SIP passwords and the account's url_key: each is sealed (AES-256-GCM, a key derived from the
 * secrets key), bound to its key and fingerprint, so a body moved to another entry does not open.
 * Reading allocates only the opened answer: sealed bytes are read into a scratch buffer reused for every read, and
 * GCM's output is already the exact-size buffer kept (a boot storm otherwise churns several buffers per phone,
 * and at 100k phones that external garbage is what sets the pace of full collections).
 */
export interface KeptMeta {
  fp: string;
  /** When it was rendered (ms since epoch, strictly increasing within a run): the newest tells a device's variant. */
  at: number;
  userIds: readonly string[];
  vendor: string;
  model: string;
  origin: string;
  template: string;
  layer: LayerName;
  contentType: string;
  perDevice: boolean;
}

/** A kept file's answer as read back: the wire of wire.ts (its Date slot not yet filled). */
export type KeptWire = Omit<Wire, 'second'>;

interface IndexEntry extends KeptMeta {
  /** Read from disk once already in this run (the renderer keeps a file in memory from its second read on). */
  readBefore: boolean;
  file: string;
  off: number;
  len: number;
  dateAt: number;
  bodyAt: number;
  keepAlive: string;
}

type Change = { meta: KeptMeta; file: { wire: KeptWire } } | null;

export interface KeptFilesOptions {
  /** Quiet time before pending changes are written (default 500 ms). */
  delayMs?: number;
  /** Pending body bytes that force a write at once (default 64 MiB). */
  maxPendingBytes?: number;
  /** Longest a due write waits while phones are fetching (`busy`), counted from its first pending change (default 10 s). */
  maxDelayMs?: number;
  /** Clock for that bound (default performance.now; tests move it by hand). */
  now?: () => number;
}

/** Few enough that every bucket's file stays open (one pread per body), enough that a rewrite stays small. */
const BUCKETS = 256;
const MAGIC = Buffer.from('KPF2', 'latin1');
const NAME = /^b(\d{4})\.(\d+)\.kept$/;
/** Bytes copied per read and write when a bucket is rewritten. */
const COPY_CHUNK = 1024 * 1024;
const IV = 12;
const TAG = 16;
const LAYERS = new Set<LayerName>(['builtin', 'account', 'device']);

/** Bucket of a key `<deviceId>/<name>`: FNV-1a over the device id, so a device's files are written together. */
function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  const end = key.indexOf('/');
  for (let i = 0; i < (end < 0 ? key.length : end); i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
}

const isStr = (v: unknown): v is string => typeof v === 'string';

/** `base`: where the bodies start (offsets in the header are relative to it). */
function parseIndex(file: string, header: unknown, base: number, size: number): Map<string, IndexEntry> {
  const out = new Map<string, IndexEntry>();
  // The few distinct values of the descriptive fields, one string each instead of one per entry (an index of every
  // bucket is 200k entries at 100k phones; each JSON.parse hands out its own copies).
  const shared = new Map<string, string>();
  const one = (value: string): string => {
    const held = shared.get(value);
    if (held !== undefined) return held;
    shared.set(value, value);
    return value;
  };
  if (!Array.isArray(header)) throw new Error('header is not a list');
  for (const row of header as unknown[]) {
    if (!Array.isArray(row) || row.length !== 16) throw new Error('bad header row');
    const [key, fp, userIds, vendor, model, origin, template, layer, contentType, perDevice, off, len, at, dateAt, bodyAt, keepAlive] = row as unknown[];
    if (![key, fp, vendor, model, origin, template, contentType, keepAlive].every(isStr) || !LAYERS.has(layer as LayerName)) throw new Error('bad header row');
    if (!Array.isArray(userIds) || !userIds.every(isStr) || typeof perDevice !== 'boolean' || typeof at !== 'number') throw new Error('bad header row');
    if (!Number.isInteger(off) || !Number.isInteger(len) || (off as number) < 0 || (len as number) < IV + TAG || base + (off as number) + (len as number) > size) throw new Error('entry out of bounds');
    const plain = (len as number) - IV - TAG;
    if (!Number.isInteger(dateAt) || !Number.isInteger(bodyAt) || (dateAt as number) < 0 || (dateAt as number) + 29 > (bodyAt as number) || (bodyAt as number) > plain) throw new Error('bad wire layout');
    out.set(key as string, {
      fp: fp as string, at, userIds: (userIds as string[]).map(one), vendor: one(vendor as string), model: one(model as string), origin: one(origin as string),
      template: one(template as string), layer: layer as LayerName, contentType: one(contentType as string), perDevice, readBefore: false, file, off: base + (off as number), len: len as number,
      dateAt: dateAt as number, bodyAt: bodyAt as number, keepAlive: one(keepAlive as string),
    });
  }
  return out;
}

export class KeptFiles {
  /** Bucket → its index: every bucket's is read at open (open()), a rewritten bucket's replaced when it is written. */
  private readonly indexes = new Map<number, Map<string, IndexEntry>>();
  /** Bucket → the current generation's file name and number. */
  private readonly current = new Map<number, { file: string; gen: number }>();
  private readonly pending = new Map<number, Map<string, Change>>();
  /** Changes being written: still answered from here until the new generation is in place. */
  private readonly writing = new Map<number, Map<string, Change>>();
  /** Bucket → its current file, open for reading. */
  private readonly fds = new Map<number, { file: string; fd: number }>();
  private pendingBytes = 0;
  private scratch = Buffer.alloc(0);
  /** The buffer a bucket rewrite copies its entries through (never held past one chunk's write); made at the first. */
  private copyBuffer: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly sealKey: Buffer;
  private readonly delayMs: number;
  private readonly maxPendingBytes: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  /** When the oldest change still pending arrived. */
  private pendingSince = 0;
  /** Bodies read from disk (tests, diagnostics). */
  reads = 0;
  /**
   * True while phones are fetching (the provisioning wiring asks the renderer): a due write then waits, up to
   * `maxDelayMs` after its first pending change. After a template edit the background walk renders a few files a
   * second beside the phones, and each quiet half second then rewrote a bucket per file rendered (~1 MB copied and an
   * fsync each): 6-7% of the phones' core in a 100k walk. Waiting, the writes coalesce into fewer rewrites after
   * the storm. These files are a cache: a change not yet written when the process dies is rendered again.
   */
  busy: () => boolean = () => false;

  private constructor(
    readonly dir: string,
    secret: Buffer,
    private readonly log: Logger,
    options: KeptFilesOptions,
  ) {
    this.sealKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'kazoo-provisioner kept rendered files', 32));
    this.delayMs = options.delayMs ?? 500;
    this.maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Lists the directory once (newest generation of each bucket wins; older ones and temp files are removed) and
   * reads every bucket's index: a phone's first fetch after a restart then never waits for an index to be read and
   * parsed (at 100k phones one index is ~800 entries; a few of them on one turn of the loop was a 200 ms stall).
   */
  static open(dir: string, secret: Buffer, log: Logger, options: KeptFilesOptions = {}): KeptFiles {
    const kept = new KeptFiles(dir, secret, log, options);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stale: string[] = [];
    for (const name of readdirSync(dir)) {
      const m = NAME.exec(name);
      if (!m) {
        if (name.endsWith('.tmp')) stale.push(name);
        continue;
      }
      const bucket = Number(m[1]);
      const gen = Number(m[2]);
      const had = kept.current.get(bucket);
      if (bucket >= BUCKETS) {
        stale.push(name);
        continue;
      }
      if (!had || had.gen < gen) {
        if (had) stale.push(path.basename(had.file));
        kept.current.set(bucket, { file: path.join(dir, name), gen });
      } else stale.push(name);
    }
    for (const name of stale) void fs.rm(path.join(dir, name), { force: true }).catch(() => undefined);
    for (const bucket of kept.current.keys()) kept.index(bucket);
    return kept;
  }

  /** What is kept for `key` (pending writes first), without its body. */
  meta(key: string): KeptMeta | undefined {
    const bucket = bucketOf(key);
    const change = this.changed(bucket, key);
    return change !== undefined ? (change?.meta ?? undefined) : this.index(bucket).get(key);
  }

  /** The newest not yet written change of `key` (null: removed), or undefined when there is none. */
  private changed(bucket: number, key: string): Change | undefined {
    const pending = this.pending.get(bucket);
    if (pending?.has(key)) return pending.get(key);
    const writing = this.writing.get(bucket);
    return writing?.has(key) ? writing.get(key) : undefined;
  }

  /** The kept answer for `key` if it is still the one `meta` described; undefined when it cannot be read or opened. */
  wire(key: string, meta: KeptMeta): KeptWire | undefined {
    const bucket = bucketOf(key);
    const change = this.changed(bucket, key);
    if (change !== undefined) return change && change.meta === meta ? change.file.wire : undefined;
    const entry = this.index(bucket).get(key);
    if (entry !== meta) return undefined;
    try {
      const sealed = this.scratchFor(entry.len);
      if (readSync(this.fdOf(bucket, entry.file), sealed, 0, entry.len, entry.off) !== entry.len) return undefined;
      this.reads++;
      return this.opened(sealed, key, entry);
    } catch {
      // Unreadable or damaged: rendered again by the caller.
      return undefined;
    }
  }

  /**
   * Whether the entry `meta` describes was read from disk before in this run (and notes this read). A change not
   * yet written is not an entry on disk: answered true, its bytes are in memory already.
   */
  readBefore(meta: KeptMeta): boolean {
    if (!('readBefore' in meta)) return true;
    const entry = meta as IndexEntry;
    const before = entry.readBefore;
    entry.readBefore = true;
    return before;
  }

  /** The reused read buffer, at least `len` bytes (its contents are never kept: opening copies them out). */
  private scratchFor(len: number): Buffer {
    if (this.scratch.length < len) this.scratch = Buffer.allocUnsafeSlow(Math.max(len, this.scratch.length * 2));
    return this.scratch.subarray(0, len);
  }

  private opened(sealed: Buffer, key: string, entry: IndexEntry): KeptWire | undefined {
    const bytes = this.open(sealed, key, entry.fp);
    return bytes && { bytes, dateAt: entry.dateAt, bodyAt: entry.bodyAt, keepAlive: entry.keepAlive };
  }

  private fdOf(bucket: number, file: string): number {
    const held = this.fds.get(bucket);
    if (held?.file === file) return held.fd;
    this.closeFd(bucket);
    const fd = openSync(file, 'r');
    this.fds.set(bucket, { file, fd });
    return fd;
  }

  private closeFd(bucket: number): void {
    const held = this.fds.get(bucket);
    if (!held) return;
    this.fds.delete(bucket);
    try {
      closeSync(held.fd);
    } catch {
      // already closed
    }
  }

  /**
   * The kept entries `only` names, bucket by bucket: one read of each bucket file holding any (off the loop, into one
   * buffer reused for every bucket), then its entries opened for up to `sliceMs` per turn of the loop. `take`
   * returns false to stop. Entries with a change not yet written are skipped.
   */
  async readNamed(
    only: ReadonlySet<string>,
    take: (key: string, meta: KeptMeta, wire: KeptWire) => boolean,
    between: () => Promise<void> = () => new Promise((r) => setImmediate(r)),
    sliceMs = 2,
    now: () => number = performance.now.bind(performance),
  ): Promise<void> {
    let buffer = Buffer.alloc(0);
    const buckets = new Set([...only].map(bucketOf));
    for (const [bucket, current] of [...this.current.entries()]) {
      if (!buckets.has(bucket)) continue;
      const handle = await fs.open(current.file, 'r').catch(() => undefined);
      if (!handle) continue;
      let size: number;
      try {
        const { size: length } = await handle.stat();
        if (buffer.length < length) buffer = Buffer.allocUnsafeSlow(Math.max(length, buffer.length * 2));
        size = (await handle.read(buffer, 0, length, 0)).bytesRead;
      } catch {
        size = -1;
      } finally {
        await handle.close().catch(() => undefined);
      }
      if (size < 0 || this.current.get(bucket)?.file !== current.file) continue;
      let until = now() + sliceMs;
      for (const [key, entry] of this.index(bucket)) {
        if (!only.has(key) || entry.file !== current.file || this.changed(bucket, key) !== undefined || entry.off + entry.len > size) continue;
        const wire = this.opened(buffer.subarray(entry.off, entry.off + entry.len), key, entry);
        if (wire && !take(key, entry, wire)) return;
        if (now() >= until) {
          await between();
          // The bucket may have been rewritten meanwhile: its entries then belong to the new file.
          if (this.current.get(bucket)?.file !== current.file) break;
          until = now() + sliceMs;
        }
      }
      await between();
    }
  }

  /** Writes what is pending and closes the open bucket files. */
  async close(): Promise<void> {
    await this.flush();
    for (const bucket of [...this.fds.keys()]) this.closeFd(bucket);
  }

  put(key: string, meta: KeptMeta, file: { wire: KeptWire }): void {
    this.change(key, { meta, file: { wire: file.wire } });
    this.pendingBytes += file.wire.bytes.length;
  }

  remove(key: string): void {
    if (this.meta(key) !== undefined) this.change(key, null);
  }

  /** Writes every pending change now; resolves once they are durable. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    if (this.pending.size === 0) return;
    this.running = this.writeAll().finally(() => (this.running = undefined));
    await this.running;
  }

  private change(key: string, change: Change): void {
    const bucket = bucketOf(key);
    if (this.pending.size === 0) this.pendingSince = this.now();
    let changes = this.pending.get(bucket);
    if (!changes) this.pending.set(bucket, (changes = new Map()));
    changes.set(key, change);
    if (this.pendingBytes >= this.maxPendingBytes) {
      this.write();
      return;
    }
    this.writeAfterQuiet();
  }

  /** (Re)arms the write for `delayMs` from now: pending changes are written once they have been quiet that long. */
  private writeAfterQuiet(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Phones fetching: wait for a quiet moment, but not past maxDelayMs after the first change waiting.
      if (this.busy() && this.now() - this.pendingSince < this.maxDelayMs) this.writeAfterQuiet();
      else this.write();
    }, this.delayMs);
    this.timer.unref();
  }

  private write(): void {
    void this.flush().catch((err: unknown) => this.log.error('provisioning: writing kept files failed', { err }));
  }

  private async writeAll(): Promise<void> {
    const buckets = [...this.pending.keys()];
    this.pendingBytes = 0;
    for (const bucket of buckets) {
      const changes = this.pending.get(bucket);
      if (!changes) continue;
      this.pending.delete(bucket);
      this.writing.set(bucket, changes);
      try {
        await this.writeBucket(bucket, changes);
      } catch (err) {
        // A cache: what is not written is rendered again when asked for.
        this.log.error('provisioning: kept files bucket not written', { bucket, err });
      } finally {
        this.writing.delete(bucket);
      }
    }
  }

  private async writeBucket(bucket: number, changes: Map<string, Change>): Promise<void> {
    const index = this.index(bucket);
    const old = this.current.get(bucket);
    // Entries kept as they are, in their order in the old file (so that neighbours are copied as one range).
    const keepOld = [...index.entries()].filter(([key]) => !changes.has(key)).sort((a, b) => a[1].off - b[1].off);
    // An old file that cannot be opened fails the rewrite (logged by writeAll; the bucket stays as it was), as reading
    // it whole did: its entries are not dropped in silence.
    const source = keepOld.length > 0 && old ? await fs.open(old.file, 'r') : undefined;
    try {
      const size = source ? (await source.stat()).size : 0;
      const rows: unknown[][] = [];
      const copied: Array<{ off: number; len: number }> = [];
      const sealed: Buffer[] = [];
      let offset = 0;
      const add = (key: string, meta: KeptMeta, wire: Omit<KeptWire, 'bytes'>, len: number) => {
        rows.push([key, meta.fp, meta.userIds, meta.vendor, meta.model, meta.origin, meta.template, meta.layer, meta.contentType, meta.perDevice, offset, len, meta.at, wire.dateAt, wire.bodyAt, wire.keepAlive]);
        offset += len;
      };
      if (source) {
        for (const [key, e] of keepOld) {
          if (e.off + e.len > size) continue;
          add(key, e, e, e.len);
          const last = copied.at(-1);
          if (last && last.off + last.len === e.off) last.len += e.len;
          else copied.push({ off: e.off, len: e.len });
        }
      }
      for (const [key, change] of changes) {
        if (!change) continue;
        const body = this.seal(change.file.wire.bytes, key, change.meta.fp);
        add(key, change.meta, change.file.wire, body.length);
        sealed.push(body);
      }
      const gen = (old?.gen ?? 0) + 1;
      const file = path.join(this.dir, `b${String(bucket).padStart(4, '0')}.${gen}.kept`);
      if (rows.length === 0) {
        this.current.delete(bucket);
        this.indexes.set(bucket, new Map());
      } else {
        const header = Buffer.from(JSON.stringify(rows), 'utf8');
        const length = Buffer.alloc(4);
        length.writeUInt32BE(header.length);
        const base = MAGIC.length + 4 + header.length;
        await writeFileDurable(file, this.bucketChunks(Buffer.concat([MAGIC, length, header]), source, copied, sealed));
        this.indexes.set(bucket, parseIndex(file, rows, base, base + offset));
        this.current.set(bucket, { file, gen });
      }
    } finally {
      await source?.close().catch(() => undefined);
    }
    if (old) {
      if (this.fds.get(bucket)?.file === old.file) this.closeFd(bucket);
      await fs.rm(old.file, { force: true });
    }
  }

  /**
   * A bucket's new file, chunk by chunk: its head, the old entries kept (copied range by range through one reused
   * buffer) and the new sealed ones. Not the old file read whole and joined to the new: at 100k phones a template
   * edit rewrote every bucket (~1.7 MB each) that way, two such buffers per bucket: nearly 1 GB of short-lived
   * buffers per pass, and V8 starts a full collection for each 64 MB of them, under the phones still fetching.
   */
  private async *bucketChunks(head: Buffer, source: FileHandle | undefined, copied: ReadonlyArray<{ off: number; len: number }>, sealed: readonly Buffer[]): AsyncIterable<Uint8Array> {
    // writeFileDurable writes each chunk before it asks for the next, so the buffer is free again by then.
    const buffer = (this.copyBuffer ??= Buffer.allocUnsafeSlow(COPY_CHUNK));
    yield head;
    for (const range of copied) {
      for (let done = 0; done < range.len; ) {
        const want = Math.min(buffer.length, range.len - done);
        const { bytesRead } = await source!.read(buffer, 0, want, range.off + done);
        if (bytesRead !== want) throw new Error('kept files bucket shrank while being rewritten');
        yield buffer.subarray(0, want);
        done += want;
      }
    }
    // The new entries packed into the same buffer: one write per chunk, not one per file.
    let filled = 0;
    for (const body of sealed) {
      if (filled + body.length > buffer.length) {
        if (filled > 0) yield buffer.subarray(0, filled);
        filled = 0;
        if (body.length > buffer.length) {
          yield body;
          continue;
        }
      }
      body.copy(buffer, filled);
      filled += body.length;
    }
    if (filled > 0) yield buffer.subarray(0, filled);
  }

  private index(bucket: number): Map<string, IndexEntry> {
    let index = this.indexes.get(bucket);
    if (index) return index;
    index = new Map();
    const current = this.current.get(bucket);
    if (current) {
      let fd: number | undefined;
      try {
        fd = openSync(current.file, 'r');
        const size = fstatSync(fd).size;
        const head = Buffer.alloc(MAGIC.length + 4);
        readSync(fd, head, 0, head.length, 0);
        if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a kept files bucket');
        const length = head.readUInt32BE(MAGIC.length);
        if (head.length + length > size) throw new Error('header out of bounds');
        const header = Buffer.alloc(length);
        readSync(fd, header, 0, length, head.length);
        index = parseIndex(current.file, JSON.parse(header.toString('utf8')), head.length + length, size);
      } catch (err) {
        this.log.warn('provisioning: kept files bucket unreadable, its files will be rendered again', { file: current.file, reason: (err as Error).message });
        index = new Map();
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    this.indexes.set(bucket, index);
    return index;
  }

  private seal(body: Buffer, key: string, fp: string): Buffer {
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(`${key}|${fp}`));
    const out = Buffer.concat([iv, Buffer.alloc(TAG), cipher.update(body), cipher.final()]);
    cipher.getAuthTag().copy(out, IV);
    return out;
  }

  private open(sealed: Buffer, key: string, fp: string): Buffer | undefined {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, sealed.subarray(0, IV));
      decipher.setAAD(Buffer.from(`${key}|${fp}`));
      decipher.setAuthTag(sealed.subarray(IV, IV + TAG));
      // GCM's update hands out an exact-size buffer of its own; final (which checks the tag) adds nothing.
      const plain = decipher.update(sealed.subarray(IV + TAG));
      const rest = decipher.final();
      return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
    } catch {
      return undefined;
    }
  }
}
