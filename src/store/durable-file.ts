import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Replace `file` with `data` so that a crash at any moment leaves either the old or the new complete file:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the directory.
 * Resolves only once the new content is durable. `data` may come as chunks (written in order).
 */
export async function writeFileDurable(file: string, data: string | Uint8Array | AsyncIterable<string | Uint8Array>, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'w', mode);
  try {
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
      // In chunks, awaiting each: a large document need not be one string, and the event loop runs in between.
      else for await (const chunk of data) await handle.writeFile(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    // A full disk, or a chunk source that failed: no half-written temporary file is left behind.
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

/**
 * Coalesces writes of one file: at most one write in flight and one queued. Every caller of `flush()`
 * resolves once a write that started after its call has landed, so its change is on disk; a burst of
 * N changes costs two serialisations, not N.
 */
export class CoalescingWriter {
  private inFlight: Promise<void> | null = null;
  private queued: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;

  constructor(private readonly writeOnce: () => Promise<void>) {}

  flush(): Promise<void> {
    if (!this.inFlight) {
      this.inFlight = this.run();
      return this.inFlight;
    }
    if (!this.queued) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.queued = { promise, resolve, reject };
    }
    return this.queued.promise;
  }

  private async run(): Promise<void> {
    try {
      await this.writeOnce();
    } finally {
      const next = this.queued;
      this.queued = null;
      this.inFlight = null;
      if (next) {
        this.inFlight = this.run();
        this.inFlight.then(next.resolve, next.reject);
      }
    }
  }
}
