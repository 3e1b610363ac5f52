import type { StoredDoc } from '../domain/types.js';

/**
 * Writes accepted but not yet durable. Readers never see them (they read the committed indexes); writers do:
 * - `newest` is the version a writer must build on, so concurrent updates of one document never undo each other;
 * - `claimant` tells who holds a unique key (a MAC, a realm…) through a pending version, so two racing saves
 *   cannot both take it while neither is visible yet.
 * A key the committed version holds stays held by the committed index until the change replacing it is durable.
 */
export class PendingWrites {
  private readonly docs = new Map<string, { doc: StoredDoc | undefined; writes: number }>();
  private readonly claims = new Map<string, Map<string, number>>();

  /** Registers a pending version (`doc` undefined = a removal); call the returned function once it settled. */
  begin(docKey: string, doc: StoredDoc | undefined, owner: string, claimKeys: readonly string[]): () => void {
    const entry = this.docs.get(docKey) ?? { doc, writes: 0 };
    entry.doc = doc;
    entry.writes++;
    this.docs.set(docKey, entry);
    for (const key of claimKeys) {
      const owners = this.claims.get(key) ?? new Map<string, number>();
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
      this.claims.set(key, owners);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      // Changes to one document settle in order and a refused one takes the later ones with it, so when the
      // last write settles there is no newer pending version left to show.
      if (--entry.writes === 0) this.docs.delete(docKey);
      for (const key of claimKeys) {
        const owners = this.claims.get(key)!;
        const left = owners.get(owner)! - 1;
        if (left) owners.set(owner, left);
        else owners.delete(owner);
        if (!owners.size) this.claims.delete(key);
      }
    };
  }

  /** The newest pending version of a document: `{doc: undefined}` for a pending removal, undefined if none. */
  newest(docKey: string): { doc: StoredDoc | undefined } | undefined {
    return this.docs.get(docKey);
  }

  /** Who claims `key` through a pending write (the first, if several), other than `except`. */
  claimant(key: string, except?: string): string | undefined {
    for (const owner of this.claims.get(key)?.keys() ?? []) if (owner !== except) return owner;
    return undefined;
  }
}
