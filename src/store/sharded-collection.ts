import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Low } from 'lowdb';
import type { StoredDoc } from '../domain/types.js';
import { DurableJsonFile } from './json-file-adapter.js';
import { CoalescingWriter } from './durable-file.js';

interface ShardData {
  docs: Record<string, StoredDoc>;
}

interface Shard {
  db: Low<ShardData>;
  writer: CoalescingWriter;
}

/**
 * One collection (e.g. the devices of one account) spread over `shardCount` lowdb files by a hash of the
 * document id. lowdb re-serialises a whole file per write, so a write costs O(docs in one shard), not
 * O(docs in the collection).
 * Files are created on first write; shards with no documents are never written.
 */
export class ShardedCollection {
  private readonly shards = new Map<number, Shard>();
  private dirReady: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly shardCount: number,
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
      const db = new Low<ShardData>(new DurableJsonFile<ShardData>(this.fileFor(index)), { docs: {} });
      shard = { db, writer: new CoalescingWriter(async () => {
        await this.ensureDir();
        await db.write();
      }) };
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
    const docs: StoredDoc[] = [];
    for (const name of names) {
      // A temp file is what a crash mid-write leaves behind; the real file beside it is intact.
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        await fs.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      const match = /^(?:shard-(\d{4})|docs)\.json$/.exec(name);
      if (!match) continue;
      const index = match[1] === undefined ? 0 : Number(match[1]);
      const shard = this.shard(index);
      await shard.db.read();
      shard.db.data ??= { docs: {} };
      for (const doc of Object.values(shard.db.data.docs)) docs.push(doc);
    }
    return docs;
  }

  /** Puts (or with `doc` undefined, removes) a document in memory and resolves once it is durable. */
  commit(id: string, doc: StoredDoc | undefined): Promise<void> {
    const shard = this.shard(this.shardIndex(id));
    if (doc) shard.db.data.docs[id] = doc;
    else delete shard.db.data.docs[id];
    return shard.writer.flush();
  }

  /** Puts back the in-memory copy of a document after a failed commit (no disk write). */
  restore(id: string, doc: StoredDoc | undefined): void {
    const shard = this.shard(this.shardIndex(id));
    if (doc) shard.db.data.docs[id] = doc;
    else delete shard.db.data.docs[id];
  }

  /** Removes the whole collection from disk (account deletion). */
  async destroy(): Promise<void> {
    this.shards.clear();
    this.dirReady = undefined;
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
