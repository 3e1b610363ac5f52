import type { Request } from 'express';
import type { StoredDoc } from '../../domain/types.js';
import { KazooError } from '../../http/errors.js';

/** `If-Match` with a revision other than the stored one: the client edited a stale copy -> 412. */
export function checkIfMatch(req: Request, doc: StoredDoc): void {
  const header = req.get('if-match');
  if (!header || header.trim() === '*') return;
  const wanted = header.split(',').map((tag) => tag.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
  if (!wanted.includes(doc._rev)) {
    throw new KazooError(412, 'precondition_failed', { message: 'document revision does not match If-Match', cause: doc._rev });
  }
}
