import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/server.js';
import { spawnTs, type Spawned } from '../helpers/process.js';
import { acquireOwnership, ownerFile, readOwner } from '../../src/store/process-lock.js';

const dirs: string[] = [];
const children: Spawned['child'][] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dataDir() {
  const dir = await tempDir('prov-lock-');
  dirs.push(dir);
  return dir;
}

/** Resolves with the child's first line of output. */
function firstLine(child: Spawned['child']): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before answering`)));
  });
}

describe('the DATA_DIR lock knows its own process', () => {
  it('a record left by a dead process that had our PID (a restarted container\'s PID 1) is stale', async () => {
    const dir = await dataDir();
    // What a server killed by the OOM killer leaves: its PID, which is ours now, and its own start identity.
    await writeFile(ownerFile(dir), JSON.stringify({ pid: process.pid, kind: 'server', identity: { nonce: 'an-earlier-life', start: '1' } }));
    const release = await acquireOwnership(dir, { pid: process.pid, kind: 'server' }, 0);
    expect(release).toBeTypeOf('function');
    const record = JSON.parse(await readFile(ownerFile(dir), 'utf8'));
    expect(record.pid).toBe(process.pid);
    expect(record.identity.nonce).not.toBe('an-earlier-life');
    await release!();
  });

  it('a record with our PID from before the identity was recorded is stale too', async () => {
    const dir = await dataDir();
    await writeFile(ownerFile(dir), JSON.stringify({ pid: process.pid, kind: 'server' }));
    const release = await acquireOwnership(dir, { pid: process.pid, kind: 'cli' }, 0);
    expect(release).toBeTypeOf('function');
    await release!();
  });

  it('a lock this process holds is still refused to a second taker in this process', async () => {
    const dir = await dataDir();
    const release = await acquireOwnership(dir, { pid: process.pid, kind: 'server' }, 0);
    await expect(acquireOwnership(dir, { pid: process.pid, kind: 'server' }, 0)).rejects.toThrow(/in use by server process/);
    expect((await readOwner(dir))?.pid).toBe(process.pid);
    await release!();
    expect(existsSync(ownerFile(dir))).toBe(false);
  });

  it('a live other process holding the lock is respected: a server is refused, a CLI is told to delegate', async () => {
    const dir = await dataDir();
    const holder = spawnTs('test/api/fixtures/hold-lock.ts', [dir], {});
    children.push(holder.child);
    expect(await firstLine(holder.child)).toBe('held');
    await expect(acquireOwnership(dir, { pid: process.pid, kind: 'server' }, 0)).rejects.toThrow(`in use by server process ${holder.child.pid}`);
    expect(await acquireOwnership(dir, { pid: process.pid, kind: 'cli' }, 0)).toBeUndefined();
    expect((await readOwner(dir))?.pid).toBe(holder.child.pid);
    holder.child.kill('SIGKILL');
    await holder.exited;
    // once it is dead, its record is stale
    const release = await acquireOwnership(dir, { pid: process.pid, kind: 'server' }, 0);
    expect(release).toBeTypeOf('function');
    await release!();
  });

  it.skipIf(!existsSync('/proc/self/stat'))('a live process that reuses a dead owner\'s PID (another start time) does not hold the lock', async () => {
    const dir = await dataDir();
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
    children.push(bystander);
    await writeFile(ownerFile(dir), JSON.stringify({ pid: bystander.pid, kind: 'server', identity: { nonce: 'dead-owner', start: '12345' } }));
    const release = await acquireOwnership(dir, { pid: process.pid, kind: 'server' }, 0);
    expect(release).toBeTypeOf('function');
    await release!();
    bystander.kill('SIGKILL');
  });
});
