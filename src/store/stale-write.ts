import { StaleWriteError } from './backend.js';

const ATTEMPTS = 20;

/** Per document: the retry running now (retries of one document on this node run one at a time). */
const retrying = new Map<string, Promise<unknown>>();

/**
 * Runs a read-merge-write again when another node committed the same document first (StaleWriteError, only
 * with a shared database): the newer version is read into memory, so the next attempt merges into it and no
 * update is lost. An attempt that checks If-Match answers 412 then, as a stale copy should.
 * First attempts pipeline (each builds on the one before), so one lost race fails every write queued behind
 * it; their retries therefore run one at a time per document, each reading the stored version just before it
 * rebuilds, so the window another node can win is one round trip and every round commits something.
 */
export async function retryOnStale<T>(attempt: () => Promise<T>): Promise<T> {
  let stale: StaleWriteError;
  try {
    return await attempt();
  } catch (err) {
    if (!(err instanceof StaleWriteError)) throw err;
    stale = err;
  }
  for (let tries = 2; ; tries++) {
    const previous = retrying.get(stale.docKey) ?? Promise.resolve();
    const run = previous.then(async () => {
      await stale.reload?.().catch(() => undefined);
      return attempt();
    });
    const settled = run.catch(() => undefined);
    retrying.set(stale.docKey, settled);
    void settled.then(() => {
      if (retrying.get(stale.docKey) === settled) retrying.delete(stale.docKey);
    });
    try {
      return await run;
    } catch (err) {
      if (!(err instanceof StaleWriteError) || tries >= ATTEMPTS) throw err;
      stale = err;
    }
  }
}
