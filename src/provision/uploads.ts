import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { StoredUpload, UploadStorage } from './shared-files.js';

/**
 * Files phones PUT (Polycom `<mac>-app.log`, `-boot.log`, `-phone.cfg`; any VendorFile with `upload: true`), kept
 * per device under DATA_DIR/uploads/<device id>/<name>. Bounded three ways: bytes per upload (a bigger body is
 * refused with 413 as soon as it passes the bound, nothing kept), files per device and bytes per device (the
 * oldest go first). A re-upload of a name replaces it (written aside, then renamed: a reader never sees half a file).
 * With a shared `storage` (a cluster, see shared-files.ts) an upload is stored there first, for every node, and the
 * files under DATA_DIR/uploads are this node's copy of it, kept in step with what the other nodes store.
 */
export interface UploadLimits {
  maxBytes: number;
  maxFiles: number;
  maxDeviceBytes: number;
}

export interface UploadInfo {
  name: string;
  bytes: number;
  /** Unix ms of the upload. */
  modified: number;
}

const DEVICE_ID = /^[0-9a-zA-Z_-]{1,64}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,79}$/;

export class UploadStore {
  private readonly root: string;

  constructor(
    dataDir: string,
    readonly limits: UploadLimits,
    private readonly storage?: UploadStorage,
  ) {
    this.root = path.join(dataDir, 'uploads');
  }

  /**
   * With shared storage: brings this node's copy in step with it, copies up what only this node has (uploads kept
   * before the node joined a cluster), then follows the other nodes' uploads.
   */
  async start(): Promise<void> {
    if (!this.storage) return;
    const known = new Set<string>();
    await this.storage.start((upload, initial) => {
      if (initial) known.add(`${upload.deviceId}/${upload.name}`);
      this.applyShared(upload);
    });
    for (const deviceId of listNames(this.root)) {
      const dir = this.dirOf(deviceId);
      if (!dir) continue;
      for (const f of this.listDir(dir)) {
        if (known.has(`${deviceId}/${f.name}`)) continue;
        const body = this.read(deviceId, f.name);
        if (body) await this.storage.put({ deviceId, name: f.name, body, modified: f.modified });
      }
    }
  }

  /** Another node's upload (or removal) becomes this node's copy. */
  private applyShared(upload: StoredUpload): void {
    const dir = this.dirOf(upload.deviceId);
    if (!dir || !NAME.test(upload.name)) return;
    const file = path.join(dir, upload.name);
    try {
      if (!upload.body) {
        rmSync(file, { force: true });
        return;
      }
      mkdirSync(dir, { recursive: true });
      const tmp = path.join(dir, `.${upload.name}.tmp`);
      writeFileSync(tmp, upload.body);
      // The upload's own time, so every node lists and prunes the same files in the same order.
      utimesSync(tmp, upload.modified / 1000, upload.modified / 1000);
      renameSync(tmp, file);
    } catch {
      // This node's copy lags until the next change of that file; the shared one is intact.
    }
  }

  private dirOf(deviceId: string): string | undefined {
    return DEVICE_ID.test(deviceId) ? path.join(this.root, deviceId) : undefined;
  }

  /** Reads the body within the bound; 201/204 when kept, 413 when too big, 400 on a broken stream. */
  receive(deviceId: string, name: string, req: IncomingMessage): Promise<number> {
    return new Promise((resolve) => {
      const dir = this.dirOf(deviceId);
      if (!dir || !NAME.test(name)) return resolve(400);
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.limits.maxBytes) {
        req.resume();
        return resolve(413);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > this.limits.maxBytes) {
          done = true;
          chunks.length = 0;
          req.resume();
          return resolve(413);
        }
        chunks.push(c);
      });
      req.on('error', () => !done && ((done = true), resolve(400)));
      req.on('end', () => {
        if (done) return;
        done = true;
        this.keep(deviceId, dir, name, Buffer.concat(chunks)).then(resolve, () => resolve(500));
      });
    });
  }

  /** Stores one upload (shared storage first: acknowledged only once every node can have it), then prunes. */
  private async keep(deviceId: string, dir: string, name: string, body: Buffer): Promise<number> {
    const existed = this.has(deviceId, name);
    const modified = Date.now();
    await this.storage?.put({ deviceId, name, body, modified });
    mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `.${name}.tmp`);
    writeFileSync(tmp, body);
    if (this.storage) utimesSync(tmp, modified / 1000, modified / 1000);
    renameSync(tmp, path.join(dir, name));
    const pruned = this.prune(dir);
    await this.storage?.remove(deviceId, pruned);
    return existed ? 204 : 201;
  }

  private has(deviceId: string, name: string): boolean {
    return this.list(deviceId).some((f) => f.name === name);
  }

  /** Oldest first out until the device is within its file count and bytes; returns the names removed. */
  private prune(dir: string): string[] {
    const files = this.listDir(dir).sort((a, b) => a.modified - b.modified || a.name.localeCompare(b.name));
    let total = files.reduce((s, f) => s + f.bytes, 0);
    const removed: string[] = [];
    while (files.length > this.limits.maxFiles || total > this.limits.maxDeviceBytes) {
      const f = files.shift()!;
      total -= f.bytes;
      rmSync(path.join(dir, f.name), { force: true });
      removed.push(f.name);
    }
    return removed;
  }

  private listDir(dir: string): UploadInfo[] {
    try {
      return readdirSync(dir)
        .filter((n) => NAME.test(n))
        .map((n) => {
          const st = statSync(path.join(dir, n));
          return { name: n, bytes: st.size, modified: st.mtimeMs };
        });
    } catch {
      return [];
    }
  }

  list(deviceId: string): UploadInfo[] {
    const dir = this.dirOf(deviceId);
    return dir ? this.listDir(dir).sort((a, b) => a.name.localeCompare(b.name)) : [];
  }

  read(deviceId: string, name: string): Buffer | undefined {
    const dir = this.dirOf(deviceId);
    if (!dir || !NAME.test(name) || !this.list(deviceId).some((f) => f.name === name)) return undefined;
    try {
      return readFileSync(path.join(dir, name));
    } catch {
      return undefined;
    }
  }

  /** The device is gone: its uploads go (every node is told of the deletion and forgets them too). */
  forget(deviceId: string): void {
    const dir = this.dirOf(deviceId);
    if (!dir) return;
    rmSync(dir, { recursive: true, force: true });
    void this.storage?.forget(deviceId).catch(() => undefined);
  }
}

function listNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
