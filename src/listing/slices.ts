import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Documents a listing handles between two turns of the event loop. At ≈ 2–6 µs a document (filter test,
 * summary row, JSON) a slice holds the loop about 1–3 ms, so a phone's fetch waiting behind a 100k-device
 * export waits one slice, not the whole export.
 */
export const DEFAULT_LISTING_SLICE = 500;

/** Lets the loop run what is waiting (I/O callbacks first: phone requests) before the next slice. */
export function yieldToLoop(): Promise<void> {
  return nextTurn();
}

/** Whether the work for a request should stop: true once its client went away before the answer was sent. */
export type Stopped = () => boolean;
