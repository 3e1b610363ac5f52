import { promises as fs } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Low } from 'lowdb';
import type { StoredDoc } from '../domain/types.js';
import { DurableJsonFile, type WriteFile } from './json-file-adapter.js';

interface ShardData {
  docs: Record<string, StoredDoc>;
}

/**
 * A table of documents by id, as a shard holds it: an object without prototype, which V8 keeps in dictionary mode.
 * An ordinary object takes a hidden class per property added, linked from its first key's root class, and each
 * shard's table starts with another id: thousands of shards filled the root classes' transition lists (1,536 at
 * most), after which V8 made a fresh hidden class for every object literal of the program that starts from them.
 * At 100k devices that was each phone request's nextTick objects: a new class per request, its page faults and
 * scavenges, a fifth of the warm replay rate. JSON.parse still makes such an object per file at start-up; it is
 * copied into one of these and dropped, and the next full collection clears the classes it took.
 */
function docTable(from?: Record<string, StoredDoc>): Record<string, StoredDoc> {
  const table = Object.create(null) as Record<string, StoredDoc>;
  if (from) for (const id in from) table[id] = from[id]!;
  return table;
}

/**
 * How documents look on disk when that differs from memory (sealed secrets). `decode` also says whether the
 * stored form was out of date (`plain`: written before it was encoded), so the file can be rewritten.
 */
export interface DocCodec {
  encode(doc: StoredDoc): StoredDoc;
  decode(doc: StoredDoc): { doc: StoredDoc; plain: boolean };
}

/**
 * Told, synchronously, whether a change reached the disk: before its promise settles and before the shard
 * writes anything else, so the caller's memory moves exactly when (and only if) the file did.
 */
export type SettleChange = (durable: boolean) => void;

/** One put (or, with `doc` undefined, removal) waiting for its shard's next write. */
interface Change {
  id: string;
  doc: StoredDoc | undefined;
  settle: SettleChange;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Shard {
  /** `db.data` is the committed image: exactly what the file holds, never a change that is not durable yet. */
  db: Low<ShardData>;
  /** The db's file, read synchronously at a start (load). */
  file: DurableJsonFile<ShardData>;
  queue: Change[];
  /** The running write loop, while there is one. */
  writing: Promise<void> | undefined;
}

/**
 * One collection (e.g. the devices of one account) spread over `shardCount` lowdb files by a hash of the
 * document id. lowdb re-serialises a whole file per write, so a write costs O(docs in one shard), not
 * O(docs in the collection).
 *
 * Each file's next content is built from its last committed image plus the queued changes, never from
 * anything a refused write left behind. Changes that arrive while a write is in flight are coalesced into the
 * next one (a burst of N changes costs two writes, not N). A refused write drops its changes, and with them the
 * queued changes to the same documents: those were built on the refused version, so writing them would write
 * it after all.
 * Files are created on first write; shards with no documents are never written.
 */
/** Shard files of one collection read per turn of the loop at start-up (accounts load a few at a time: lowdb-backend.ts). */
export const SHARD_READS_PER_TURN = 256;

export class ShardedCollection {
  private readonly shards = new Map<number, Shard>();
  private dirReady: Promise<void> | undefined;
  /** Encoded form of each (immutable) document object, so a write encodes only what changed. */
  private readonly encoded = new WeakMap<StoredDoc, StoredDoc>();
  /** Documents loaded in an out-of-date stored form (see DocCodec). */
  private loadedPlain: StoredDoc[] = [];

  constructor(
    private readonly dir: string,
    private readonly shardCount: number,
    private readonly writeFile?: WriteFile,
    private readonly codec?: DocCodec,
  ) {}

  private shardIndex(id: string): number {
    if (this.shardCount === 1) return 0;
    return createHash('md5').update(id).digest().readUInt16BE(0) % this.shardCount;
  }

  private fileFor(index: number): string {
    return path.join(this.dir, this.shardCount === 1 ? 'docs.json' : `shard-${String(index).padStart(4, '0')}.json`);
  }

  private shard(index: number): Shard {
    let shard = this.shards.get(index);
    if (!shard) {
      const file = new DurableJsonFile<ShardData>(this.fileFor(index), this.writeFile);
      shard = { db: new Low<ShardData>(file, { docs: docTable() }), file, queue: [], writing: undefined };
      this.shards.set(index, shard);
    }
    return shard;
  }

  /** Creates the directory once (not per write); retried after a failure. */
  private ensureDir(): Promise<void> {
    this.dirReady ??= fs.mkdir(this.dir, { recursive: true }).then(
      () => undefined,
      (err: unknown) => {
        this.dirReady = undefined;
        throw err;
      },
    );
    return this.dirReady;
  }

  /** Loads every existing shard file; returns all documents. Throws CorruptDataFileError naming the file. */
  async load(): Promise<StoredDoc[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const shards: Shard[] = [];
    for (const name of names) {
      // A temp file is what a crash mid-write leaves behind; the real file beside it is intact.
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        await fs.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      const match = /^(?:shard-(\d{4})|docs)\.json$/.exec(name);
      if (match) shards.push(this.shard(match[1] === undefined ? 0 : Number(match[1])));
    }
    // Read synchronously, SHARD_READS_PER_TURN files per turn of the loop: a start reads every shard (58k small files
    // at 100k devices in 20 accounts), and an asynchronous read costs more of the main thread than the read itself
    // (those 58k: 2.0-2.2 s with fs.promises, 0.85-1.0 s with callbacks 16 at a time, 0.4 s synchronously). A turn
    // holds the loop ~2 ms; other collections' turns interleave. Documents are taken in the files' order.
    for (let i = 0; i < shards.length; i += SHARD_READS_PER_TURN) {
      if (i > 0) await nextTurn();
      for (const shard of shards.slice(i, i + SHARD_READS_PER_TURN)) {
        const data = shard.file.readSync();
        if (data) shard.db.data = data;
      }
    }
    const docs: StoredDoc[] = [];
    for (const shard of shards) {
      const parsed = shard.db.data?.docs ?? {};
      shard.db.data = { docs: this.codec ? this.decodeAll(parsed) : docTable(parsed) };
      for (const doc of Object.values(shard.db.data.docs)) docs.push(doc);
    }
    return docs;
  }

  private decodeAll(stored: Record<string, StoredDoc>): Record<string, StoredDoc> {
    const docs = docTable();
    for (const [id, raw] of Object.entries(stored)) {
      const { doc, plain } = this.codec!.decode(raw);
      if (plain) this.loadedPlain.push(doc);
      else this.encoded.set(doc, raw);
      docs[id] = doc;
    }
    return docs;
  }

  private encodeAll(docs: Record<string, StoredDoc>): Record<string, StoredDoc> {
    if (!this.codec) return docs;
    const out = docTable();
    for (const [id, doc] of Object.entries(docs)) {
      let stored = this.encoded.get(doc);
      if (!stored) this.encoded.set(doc, (stored = this.codec.encode(doc)));
      out[id] = stored;
    }
    return out;
  }

  /** Rewrites the documents that were loaded in an out-of-date stored form (one coalesced write per shard). */
  async rewriteOutdated(): Promise<void> {
    const outdated = this.loadedPlain.splice(0);
    await Promise.all(outdated.map((doc) => this.commit(doc.id, doc, () => undefined)));
  }

  /**
   * Queues a put (or, with `doc` undefined, a removal) for the document's shard; resolves once it is durable,
   * rejects if the disk refused it (or refused the change it was built on). `settle` is told first, either way.
   */
  commit(id: string, doc: StoredDoc | undefined, settle: SettleChange): Promise<void> {
    const shard = this.shard(this.shardIndex(id));
    return new Promise<void>((resolve, reject) => {
      shard.queue.push({ id, doc, settle, resolve, reject });
      shard.writing ??= this.writeQueued(shard);
    });
  }

  private async writeQueued(shard: Shard): Promise<void> {
    while (shard.queue.length) {
      const batch = shard.queue.splice(0);
      const image: ShardData = { docs: docTable(shard.db.data.docs) };
      for (const change of batch) {
        if (change.doc) image.docs[change.id] = change.doc;
        else delete image.docs[change.id];
      }
      let refusal: { err: unknown } | undefined;
      try {
        await this.ensureDir();
        await shard.db.adapter.write({ docs: this.encodeAll(image.docs) });
      } catch (err) {
        refusal = { err };
        this.dirReady = undefined; // the directory may be what went missing: create it again next time
      }
      if (!refusal) {
        shard.db.data = image;
        for (const change of batch) settleChange(change, true);
        continue;
      }
      const refusedIds = new Set(batch.map((c) => c.id));
      const builtOnRefused = shard.queue.filter((c) => refusedIds.has(c.id));
      shard.queue = shard.queue.filter((c) => !refusedIds.has(c.id));
      for (const change of [...batch, ...builtOnRefused]) settleChange(change, false, refusal.err);
    }
    shard.writing = undefined;
  }

  /** Resolves once no write of this collection is queued or in flight. */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.shards.values()].map((s) => s.writing).filter((w) => w !== undefined);
      if (!running.length) return;
      await Promise.all(running);
    }
  }
}

function settleChange(change: Change, durable: boolean, err?: unknown): void {
  try {
    change.settle(durable);
  } catch (settleErr) {
    // The caller's bookkeeping failed; its promise says so rather than the whole shard stalling.
    change.reject(settleErr);
    return;
  }
  if (durable) change.resolve();
  else change.reject(err);
}
