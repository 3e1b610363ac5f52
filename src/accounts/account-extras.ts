import type { AccountDoc } from '../domain/types.js';
import { UnknownId } from '../domain/errors.js';
import { ExtrasTooLarge } from './account-errors.js';
import type { Store } from '../store/store.js';

/**
 * Small per-account documents Kazoo keeps beside the account (limits, configs/{category}, the apps enabled in
 * apps_store, whitelabel). They ride in the account document as private fields, so they are written durably
 * with it, never shown in its answer, and go when it goes. The accounts file is rewritten on every account
 * write, so all of an account's extras together are bounded in bytes.
 */
export type ExtraKey = 'pvt_limits' | 'pvt_configs' | 'pvt_apps_store' | 'pvt_whitelabel';

export const EXTRAS_MAX_BYTES = 64 * 1024;

export function readExtra<T>(account: AccountDoc, key: ExtraKey): T | undefined {
  return account[key] as T | undefined;
}

const extrasBytes = (account: AccountDoc) =>
  (['pvt_limits', 'pvt_configs', 'pvt_apps_store', 'pvt_whitelabel'] as const).reduce((sum, key) => sum + (account[key] === undefined ? 0 : Buffer.byteLength(JSON.stringify(account[key]))), 0);

/**
 * Stores `value` (undefined removes it) under `key` of the account's newest version; resolves with the saved
 * account. Nothing awaits between reading the newest version and handing it to the store.
 */
export async function writeExtra(store: Store, accountId: string, key: ExtraKey, value: unknown): Promise<AccountDoc> {
  const stored = store.latest.getAccount(accountId);
  if (!stored) throw new UnknownId(accountId);
  const next = { ...stored } as AccountDoc;
  if (value === undefined) delete next[key];
  else next[key] = structuredClone(value);
  if (extrasBytes(next) > EXTRAS_MAX_BYTES) throw new ExtrasTooLarge(EXTRAS_MAX_BYTES);
  return store.save(next);
}

/** Account keys no phone file is made from: the client documents above, the api key and bookkeeping. */
const NOT_IN_PHONE_FILES = new Set<string>(['pvt_limits', 'pvt_configs', 'pvt_apps_store', 'pvt_whitelabel', 'pvt_api_key', '_rev', 'pvt_modified']);

/**
 * True when two versions of an account differ only in what no phone file is made from, so no phone needs a
 * re-check (an api_key rotation or a SmartPBX config edit on a carrier account must not re-fingerprint 100k phones).
 */
export function changedOnlyOutsidePhoneFiles(before: AccountDoc, after: AccountDoc): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (NOT_IN_PHONE_FILES.has(key)) continue;
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) return false;
  }
  return true;
}
