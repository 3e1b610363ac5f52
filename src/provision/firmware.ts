import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Firmware files an operator drops under DATA_DIR/firmware/ (flat: no sub-directories), served to phones at
 * /provision/[<url_key>/]<file>. Only names of the strict pattern below are ever looked at, and only names the
 * directory listing holds are opened — a requested name never builds a path on its own. Firmware carries no
 * secrets, so no account auth applies. The listing is re-read at most once per `recheckMs` (an operator's copy
 * shows up within it); `version` moves when the set of files changes, so rendered configs that point at firmware
 * are re-rendered.
 */
export const FIRMWARE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function stampOfNames(names: string[]): string {
  return createHash('sha1').update(names.sort().join('/')).digest('base64url').slice(0, 16);
}

export class FirmwareStore {
  readonly dir: string;
  private files = new Set<string>();
  private checkedAt = -Infinity;
  private mtime = -1;
  version = 0;
  /** The set of files present as a hash: what a kept rendered file records (stable across restarts, unlike `version`). */
  stamp = stampOfNames([]);

  constructor(
    dataDir: string,
    private readonly now: () => number = Date.now,
    private readonly recheckMs = 1000,
  ) {
    this.dir = path.join(dataDir, 'firmware');
  }

  /** Cheap on the hot path: a clock read; a stat of the directory once per recheckMs. */
  refresh(): void {
    const t = this.now();
    if (t - this.checkedAt < this.recheckMs) return;
    this.checkedAt = t;
    let mtime: number;
    try {
      mtime = statSync(this.dir).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.mtime) return;
    this.mtime = mtime;
    const next = new Set<string>();
    try {
      for (const e of readdirSync(this.dir, { withFileTypes: true })) if (e.isFile() && FIRMWARE_NAME.test(e.name) && !e.name.includes('..')) next.add(e.name);
    } catch {
      // no directory: no firmware
    }
    if (next.size !== this.files.size || [...next].some((n) => !this.files.has(n))) {
      this.files = next;
      this.version++;
      this.stamp = stampOfNames([...next]);
    }
  }

  has(name: string | undefined): name is string {
    this.refresh();
    return !!name && this.files.has(name);
  }

  /** Streams a listed file (GET/HEAD); false when the name is not one, so the caller answers as usual. */
  serve(name: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.has(name)) return false;
    const full = path.join(this.dir, name);
    let size: number;
    try {
      const st = statSync(full);
      if (!st.isFile()) return false;
      size = st.size;
    } catch {
      return false;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    const stream = createReadStream(full);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    return true;
  }
}
