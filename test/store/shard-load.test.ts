import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredDoc } from '../../src/domain/types.js';
import { CorruptDataFileError } from '../../src/store/json-file-adapter.js';
import { SHARD_READS_PER_TURN, ShardedCollection } from '../../src/store/sharded-collection.js';

/** A start reads every shard file of a collection: synchronously, a bounded number per turn of the loop. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function shardDir(files: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'shard-load-'));
  dirs.push(dir);
  for (let i = 0; i < files; i++) {
    const id = `dev${String(i).padStart(5, '0')}`;
    const doc = { id, pvt_type: 'device', pvt_account_id: 'acct', name: `phone ${i}` };
    writeFileSync(path.join(dir, `shard-${String(i).padStart(4, '0')}.json`), JSON.stringify({ docs: { [id]: doc } }));
  }
  return dir;
}

describe('shard files at a start', () => {
  it('reads every file, in turns of the loop that let other work in between', async () => {
    const files = SHARD_READS_PER_TURN * 4 + 10;
    const collection = new ShardedCollection(shardDir(files), 4096);
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    let turnsWhileLoading = 0;
    const docs: StoredDoc[] = await collection.load().then((d) => {
      turnsWhileLoading = turns;
      return d;
    });
    counting = false;
    expect(docs.map((d) => d.id).sort()).toEqual(Array.from({ length: files }, (_, i) => `dev${String(i).padStart(5, '0')}`));
    // Five turns of reads, other callbacks between them; read all at once, at most one or two (the directory
    // listing's wait) would have run before the load ended.
    expect(turnsWhileLoading).toBeGreaterThanOrEqual(4);
  });

  it('stops at a corrupt file and names it', async () => {
    const dir = shardDir(SHARD_READS_PER_TURN + 5);
    const bad = path.join(dir, 'shard-0300.json');
    writeFileSync(bad, '{"docs": {');
    await expect(new ShardedCollection(dir, 4096).load()).rejects.toThrow(CorruptDataFileError);
    await expect(new ShardedCollection(dir, 4096).load()).rejects.toThrow(bad);
  });
});
