import { randomBytes } from 'node:crypto';
import type { StoredDoc } from '../domain/types.js';

/** What a deleted document leaves behind: enough to keep its id taken, nothing of its content. */
export type Tombstone = StoredDoc & { pvt_deleted: true };

export const isTombstone = (doc: StoredDoc): doc is Tombstone => (doc as { pvt_deleted?: unknown }).pvt_deleted === true;

/** The generation of a revision ("<generation>-<hex>"): grows by one with every write of the document. */
export const generationOf = (rev: string): number => Number.parseInt(rev, 10);

export const newRevision = (generation: number): string => `${generation}-${randomBytes(16).toString('hex')}`;

export function tombstoneOf(doc: StoredDoc): Tombstone {
  return {
    id: doc.id,
    pvt_type: doc.pvt_type,
    pvt_account_id: doc.pvt_account_id,
    pvt_created: doc.pvt_created,
    pvt_modified: Math.floor(Date.now() / 1000),
    pvt_deleted: true,
    _rev: newRevision(generationOf(doc._rev) + 1),
  };
}
