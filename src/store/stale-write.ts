import { StaleWriteError } from './backend.js';

const ATTEMPTS = 20;

/** Per document: the retry running now (retries of one document on this node run one at a time). */
const retrying = new Map<string, Promise<unknown>>();

/**
 * Runs a read-merge-write again when another node committed the same document first (StaleWriteError, only
 * with a shared database): the newer version is read into memory, so the next attempt merges into it and no
 * update is lost. An attempt that checks If-Match answers 412 then, as a stale copy should.
 * The retry runs holding the document (StaleWriteError.underLock: its row locked in PostgreSQL from the read
 * until the write commits), so it cannot lose again however many nodes contend; a lost race reaches the client
 * only if the database fails. Retries of one document on this node run one at a time (one hold each).
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
    const { underLock, reload } = stale;
    const run = previous.then(async () => {
      if (underLock) return underLock(attempt);
      await reload?.().catch(() => undefined);
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
