import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

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
  /** Which life of `pid` wrote the record (filled in by acquireOwnership; callers leave it out). */
  identity?: StartIdentity;
}

/**
 * A PID alone does not name a process: a restarted container's server is PID 1 again, and PIDs are reused.
 * `nonce` names one acquisition; `boot` + `start` (the kernel's boot id and the process start time in clock
 * ticks, from /proc) name the process life, where /proc exists.
 */
export interface StartIdentity {
  nonce: string;
  boot?: string;
  start?: string;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (starttime). The command name, field 2, may hold spaces: count after its ')'. */
function startTimeOf(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

const bootId = readProc('/proc/sys/kernel/random/boot_id');
/** DATA_DIR -> nonce of the lock this process holds on it. */
const heldHere = new Map<string, string>();

export const ownerFile = (dataDir: string) => path.join(dataDir, '.owner.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that wrote `owner` still runs. A record with our own PID is ours only if we hold it now
 * (otherwise it was left by an earlier life of this PID); another PID must be alive and, where its start
 * identity was recorded, be the same process life.
 */
function ownerIsLive(dataDir: string, owner: OwnerInfo): boolean {
  if (owner.pid === process.pid) return owner.identity?.nonce !== undefined && heldHere.get(dataDir) === owner.identity.nonce;
  if (!alive(owner.pid)) return false;
  const { boot, start } = owner.identity ?? {};
  if (boot && bootId && boot !== bootId) return false; // the machine rebooted since: that PID is someone else
  const now = start ? startTimeOf(owner.pid) : undefined;
  return now === undefined || now === start;
}

export async function readOwner(dataDir: string): Promise<OwnerInfo | undefined> {
  const dir = path.resolve(dataDir);
  try {
    const info = JSON.parse(await fs.readFile(ownerFile(dir), 'utf8')) as OwnerInfo;
    return ownerIsLive(dir, info) ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes ownership of `dataDir`, waiting up to `waitMs` for a short-lived owner (the CLI) to finish.
 * Returns undefined (without waiting) when a live server owns it, so the caller can delegate to it.
 */
export async function acquireOwnership(dataDir: string, info: OwnerInfo, waitMs = 10_000): Promise<(() => Promise<void>) | undefined> {
  const dir = path.resolve(dataDir);
  await fs.mkdir(dir, { recursive: true });
  const file = ownerFile(dir);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      const nonce = randomBytes(12).toString('hex');
      try {
        await handle.writeFile(JSON.stringify({ ...info, identity: { nonce, boot: bootId, start: startTimeOf(process.pid) } }));
      } finally {
        await handle.close();
      }
      heldHere.set(dir, nonce);
      return async () => {
        if (heldHere.get(dir) === nonce) heldHere.delete(dir);
        await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(dir);
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
  const dir = path.resolve(dataDir);
  const current = JSON.parse(await fs.readFile(ownerFile(dir), 'utf8')) as OwnerInfo;
  if (current.identity?.nonce === undefined || current.identity.nonce !== heldHere.get(dir)) {
    throw new Error(`DATA_DIR ${dir} is not owned by this process`);
  }
  await fs.writeFile(ownerFile(dir), JSON.stringify({ ...info, identity: current.identity }), { mode: 0o600 });
}
