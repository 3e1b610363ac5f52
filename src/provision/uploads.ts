import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';

/**
 * Files phones PUT (Polycom `<mac>-app.log`, `-boot.log`, `-phone.cfg`; any VendorFile with `upload: true`), kept
 * per device under DATA_DIR/uploads/<device id>/<name>. Bounded three ways: bytes per upload (a bigger body is
 * refused with 413 as soon as it passes the bound, nothing kept), files per device and bytes per device (the
 * oldest go first). A re-upload of a name replaces it (written aside, then renamed: a reader never sees half a file).
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
  ) {
    this.root = path.join(dataDir, 'uploads');
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
        try {
          mkdirSync(dir, { recursive: true });
          const existed = this.has(deviceId, name);
          const tmp = path.join(dir, `.${name}.tmp`);
          writeFileSync(tmp, Buffer.concat(chunks));
          renameSync(tmp, path.join(dir, name));
          this.prune(dir);
          resolve(existed ? 204 : 201);
        } catch {
          resolve(500);
        }
      });
    });
  }

  private has(deviceId: string, name: string): boolean {
    return this.list(deviceId).some((f) => f.name === name);
  }

  /** Oldest first out until the device is within its file count and bytes. */
  private prune(dir: string): void {
    const files = this.listDir(dir).sort((a, b) => a.modified - b.modified || a.name.localeCompare(b.name));
    let total = files.reduce((s, f) => s + f.bytes, 0);
    while (files.length > this.limits.maxFiles || total > this.limits.maxDeviceBytes) {
      const f = files.shift()!;
      total -= f.bytes;
      rmSync(path.join(dir, f.name), { force: true });
    }
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

  forget(deviceId: string): void {
    const dir = this.dirOf(deviceId);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
