import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredDoc } from '../../src/domain/types.js';
import { ShardedCollection } from '../../src/store/sharded-collection.js';

/**
 * Shard tables and V8's hidden classes. Each shard file holds `{"docs":{"<id>": …}}`, a table whose first key is an
 * id no other shard has. Kept as ordinary objects, thousands of them filled the transition list of the root hidden
 * class (1,536 at most), after which every object literal built from it got a class of its own: at 100k devices,
 * each phone request's nextTick objects, a fifth of the replay rate. Checked with V8's test hooks (natives syntax):
 * whether objects built alike share a class, and whether a held table is kept in dictionary mode.
 */
v8.setFlagsFromString('--allow-natives-syntax');
v8.setFlagsFromString('--expose-gc');
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const hasFastProperties = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;
const gc = vm.runInNewContext('gc') as () => void;
v8.setFlagsFromString('--no-allow-natives-syntax');

let probes = 0;
/**
 * Pairs of objects built alike, from an empty literal and from JSON.parse, each pair with a key nothing else uses:
 * does each pair share one class? Fifty pairs, because a full collection frees the slots of whatever died, and a
 * full list with a few freed slots still gives the first few pairs their classes.
 */
function literalsShareClasses(): boolean {
  for (let i = 0; i < 50; i++) {
    const key = `probe_${probes++}`;
    const a: Record<string, number> = {};
    a[key] = 1;
    const b: Record<string, number> = {};
    b[key] = 1;
    const text = `{"${key}x":1}`;
    if (!sameMap(a, b) || !sameMap(JSON.parse(text) as object, JSON.parse(text) as object)) return false;
  }
  return true;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Sealed-secrets stand-in: the stored form is the document itself, never out of date. */
const codec = { encode: (doc: StoredDoc) => doc, decode: (doc: StoredDoc) => ({ doc, plain: false }) };
/** No fsync: thousands of small files, and durability is not what is tested here. */
const writeFile = (file: string, data: string) => fs.writeFile(file, data);
/** The document tables a collection holds (its shards' committed images). */
const tables = (c: ShardedCollection): object[] =>
  [...(c as unknown as { shards: Map<number, { db: { data: { docs: object } } }> }).shards.values()].map((shard) => shard.db.data.docs);
const idOf = (i: number) => `${i.toString(16).padStart(8, '0')}${'a'.repeat(24)}`;

describe('shard tables', () => {
  it('writing and loading thousands of shards leaves object literals sharing their hidden classes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'shard-tables-'));
    dirs.push(dir);
    gc();
    expect(literalsShareClasses()).toBe(true);

    // Written through the collection: each shard's committed table is kept in memory, first key an id.
    const written = new ShardedCollection(dir, 4096, writeFile, codec);
    const docs = 2500;
    await Promise.all(Array.from({ length: docs }, (_, i) => written.commit(idOf(i), { id: idOf(i), _rev: '1-x', pvt_type: 'device', pvt_account_id: 'acct', pvt_created: 0, pvt_modified: 0, name: `doc ${i}` }, () => undefined)));
    await written.settled();
    expect(literalsShareClasses()).toBe(true);
    expect(tables(written).some(hasFastProperties)).toBe(false);

    // Read back by a new collection (a restart): the same.
    const loaded = new ShardedCollection(dir, 4096, writeFile, codec);
    expect(await loaded.load()).toHaveLength(docs);
    expect(tables(loaded).some(hasFastProperties)).toBe(false);
    // JSON.parse made an ordinary object per file; copied and dropped, the next full collection frees their classes.
    gc();
    expect(literalsShareClasses()).toBe(true);
    // Both collections, and the tables they hold, are alive until here.
    await Promise.all([written.settled(), loaded.settled()]);
  });
});
