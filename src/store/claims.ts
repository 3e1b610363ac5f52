import type { AccountDoc, DeviceDoc, StoredDoc, UserDoc } from '../domain/types.js';
import { addValidationError, ValidationFailed, type ValidationErrors } from '../domain/validation.js';
import type { DurableClaim } from './backend.js';
import { deviceKeys } from './device-index.js';
import { isTombstone } from './tombstones.js';

/**
 * The unique keys a version claims while its write is pending (see PendingWrites). Device SIP usernames are
 * claimed per account, and per realm: under their own realm, or under their account's (`sip-plain-user`).
 */
export function claimKeys(doc: StoredDoc): string[] {
  if (isTombstone(doc)) return [];
  switch (doc.pvt_type) {
    case 'account':
      return [`realm|${(doc as AccountDoc).realm.toLowerCase()}`];
    case 'user': {
      const username = (doc as UserDoc).username;
      return typeof username === 'string' && username ? [`username|${doc.pvt_account_id}|${username.toLowerCase()}`] : [];
    }
    case 'device': {
      const keys = deviceKeys(doc as DeviceDoc);
      const out: string[] = [];
      if (keys.mac) out.push(`mac|${keys.mac}`);
      if (keys.ip) out.push(`ip|${keys.ip}`);
      if (keys.username) {
        out.push(`sip-user|${doc.pvt_account_id}|${keys.username}`);
        out.push(keys.customRealm ? `sip-realm-user|${keys.customRealm}|${keys.username}` : `sip-plain-user|${doc.pvt_account_id}|${keys.username}`);
      }
      return out;
    }
  }
}

/**
 * The keys a version holds in a shared database (one row each, a primary key): the same as claimKeys, except
 * that a device answering under its account's realm claims `sip-realm-user|<that realm>|<username>`, so it
 * collides with a device of another account whose own sip.realm is that realm, as the in-memory check
 * (sipRealmUsernameOwner) refuses. Those claims are re-keyed when the account's realm changes.
 */
export function durableClaims(doc: StoredDoc, accountRealm: string | undefined): DurableClaim[] {
  return claimKeys(doc).map((key) => {
    if (!key.startsWith('sip-plain-user|') || accountRealm === undefined) return { key };
    const username = key.slice(key.indexOf('|', 'sip-plain-user|'.length) + 1);
    return { key: `sip-realm-user|${accountRealm.toLowerCase()}|${username}`, viaAccountRealm: true };
  });
}

/**
 * A claim the database refused (another node took the key first), told as the in-memory checks tell it
 * (device-rules, account-service, user-service): Kazoo's 400 with a `unique` entry.
 */
export function uniqueKeyError(key: string, doc: StoredDoc): ValidationFailed {
  const errors: ValidationErrors = {};
  const kind = key.slice(0, key.indexOf('|'));
  const cause = (path: string) => path.split('.').reduce<unknown>((v, part) => (v as Record<string, unknown> | undefined)?.[part], doc);
  if (doc.pvt_type === 'account') {
    // Realm, or (a realm change re-keys its devices' claims) a username its devices hold under the new realm.
    addValidationError(errors, 'realm', 'unique', { message: 'Realm already in use', cause: cause('realm') });
  } else if (kind === 'mac') {
    addValidationError(errors, 'mac_address', 'unique', { message: 'MAC address already in use', cause: cause('mac_address') });
  } else if (kind === 'ip') {
    addValidationError(errors, 'sip.ip', 'unique', { message: 'SIP IP already in use', cause: cause('sip.ip') });
  } else if (kind === 'username') {
    addValidationError(errors, 'username', 'unique', { message: 'Username must be unique', cause: cause('username') });
  } else {
    addValidationError(errors, 'sip.username', 'unique', { message: 'SIP credentials already in use', cause: cause('sip.username') });
  }
  return new ValidationFailed(errors);
}
