import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccountDoc } from '../domain/types.js';

/**
 * An account's URL key (`provisioning.url_key`, as Wazo provd's `url_key`): a secret path segment its phones put
 * before the file name, `/provision/<url_key>/<file>`, for phones that cannot do HTTP auth — the key travels in
 * the provisioning URL (DHCP option 66, or the phone's own setting). An account with a key serves its devices'
 * files only under it; without the right key a fetch is answered, and counted, like an unknown MAC. An account
 * without one ignores a key in the path, so phones can be pointed at the keyed URL before the key is set.
 */

/** What a key segment in a phone's path may look like (the schema asks more of a stored key: 16+ characters). */
const KEY_SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;

export interface PhonePath {
  /** The key segment, when the path has one. */
  key: string | undefined;
  /** The file name as requested. */
  file: string;
}

/** Splits what follows /provision/ into an optional key and the file; undefined for any other shape. */
export function splitPhonePath(requested: string): PhonePath | undefined {
  const slash = requested.indexOf('/');
  if (slash < 0) return { key: undefined, file: requested };
  const key = requested.slice(0, slash);
  return KEY_SEGMENT.test(key) ? { key, file: requested.slice(slash + 1) } : undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The account's URL key, when it has one. */
export function accountUrlKey(account: AccountDoc): string | undefined {
  const key = account.provisioning?.url_key;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** True when `given` opens the account's files. Compared in constant time (digests hide the length too). */
export function urlKeyAccepted(account: AccountDoc, given: string | undefined): boolean {
  const key = accountUrlKey(account);
  if (key === undefined) return true;
  return given !== undefined && timingSafeEqual(digest(given), digest(key));
}
