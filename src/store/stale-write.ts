import { StaleWriteError } from './backend.js';

const ATTEMPTS = 20;

/**
 * Runs a read-merge-write again when another node committed the same document first (StaleWriteError, only
 * with a shared database): the store has already brought that node's version into memory, so the next attempt
 * merges into it and no update is lost. An attempt that checks If-Match answers 412 then, as a stale copy should.
 * Past a few attempts, a short random pause lets the other node's burst through instead of colliding again.
 */
export async function retryOnStale<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof StaleWriteError) || tries >= ATTEMPTS) throw err;
      if (tries > 2) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** tries)));
    }
  }
}
