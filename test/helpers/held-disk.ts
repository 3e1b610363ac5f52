import { writeFileDurable } from '../../src/store/durable-file.js';
import type { WriteFile } from '../../src/store/json-file-adapter.js';

/** One data-file write the test holds: it reaches the disk only when the test says so, or is refused. */
export interface HeldWrite {
  file: string;
  data: string;
  land(): Promise<void>;
  refuse(code?: string): void;
}

/**
 * A disk the test drives: while `holding`, every write waits until the test lands or refuses it, so a
 * test can look at the store while a write is in flight and make the disk say ENOSPC to exactly one write.
 */
export function heldDisk() {
  const held: HeldWrite[] = [];
  const waiting: Array<(w: HeldWrite) => void> = [];
  let holding = false;
  const writeFile: WriteFile = (file, data) => {
    if (!holding) return writeFileDurable(file, data);
    return new Promise<void>((resolve, reject) => {
      let settled: Promise<void> | undefined;
      const write: HeldWrite = {
        file,
        data,
        land: () => (settled ??= writeFileDurable(file, data).then(resolve, (e: unknown) => reject(e))),
        refuse: (code = 'ENOSPC') => reject(Object.assign(new Error(`${code}: refused by the test disk`), { code })),
      };
      const waiter = waiting.shift();
      if (waiter) waiter(write);
      else held.push(write);
    });
  };
  return {
    writeFile,
    hold(on = true) {
      holding = on;
    },
    /** The next write that reaches the disk (already waiting, or the next one to arrive). */
    next(): Promise<HeldWrite> {
      const write = held.shift();
      return write ? Promise.resolve(write) : new Promise((resolve) => waiting.push(resolve));
    },
    /** Writes that arrived and were neither taken with next() nor landed. */
    pending: () => held.length,
  };
}
