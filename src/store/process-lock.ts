import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * One process owns a DATA_DIR at a time (lowdb has no cross-process locking). The owner writes
 * `DATA_DIR/.owner.json` exclusively; a server also records how other processes (the CLI) can reach it,
 * so they delegate their writes to it instead of writing behind its back.
 */
export interface OwnerInfo {
  pid: number;
  kind: 'server' | 'cli';
  /** Loopback URL of the running server's control endpoint (servers only, once listening). */
  controlUrl?: string;
  /** Shared secret for the control endpoint; the file is mode 0600. */
  controlSecret?: string;
}

export const ownerFile = (dataDir: string) => path.join(dataDir, '.owner.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readOwner(dataDir: string): Promise<OwnerInfo | undefined> {
  try {
    const info = JSON.parse(await fs.readFile(ownerFile(dataDir), 'utf8')) as OwnerInfo;
    return alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes ownership of `dataDir`, waiting up to `waitMs` for a short-lived owner (the CLI) to finish.
 * Returns undefined (without waiting) when a live server owns it, so the caller can delegate to it.
 */
export async function acquireOwnership(dataDir: string, info: OwnerInfo, waitMs = 10_000): Promise<(() => Promise<void>) | undefined> {
  await fs.mkdir(dataDir, { recursive: true });
  const file = ownerFile(dataDir);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      await handle.writeFile(JSON.stringify(info));
      await handle.close();
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(dataDir);
    if (!owner) {
      // Stale file from a process that died: remove it and retry.
      await fs.rm(file, { force: true });
      continue;
    }
    if (owner.kind === 'server' && info.kind === 'cli') return undefined;
    if (Date.now() > deadline) {
      throw new Error(`DATA_DIR ${dataDir} is in use by ${owner.kind} process ${owner.pid}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Updates the owner record (e.g. once the server knows its control URL). */
export async function updateOwner(dataDir: string, info: OwnerInfo): Promise<void> {
  await fs.writeFile(ownerFile(dataDir), JSON.stringify(info), { mode: 0o600 });
}
