import { KazooError } from '../../http/errors.js';

/**
 * A write to something this server does not manage (numbers, callflows: it provisions phones, it routes no
 * calls). Refused, never faked: Kazoo's 405 envelope, saying where the thing is managed.
 */
export const notManagedHere = (what: string) => () => {
  throw new KazooError(405, 'invalid_method', {
    message: `${what} are not managed by this server (it provisions phones and routes no calls); manage them on the Kazoo cluster that does`,
  });
};
