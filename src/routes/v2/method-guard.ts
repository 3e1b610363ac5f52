import { methodNotAllowed } from '../../http/errors.js';

/** Terminal handler for a known path with a verb it does not support: Kazoo's 405. */
export function methodNotAllowedFor(): never {
  throw methodNotAllowed();
}
