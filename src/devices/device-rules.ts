import { isIPv4 } from 'node:net';
import type { AccountDoc, DeviceDoc } from '../domain/types.js';
import { getPath, isPlainObject, setPath } from '../domain/docs.js';
import { addValidationError, type ValidationErrors } from '../domain/validation.js';
import { validateDoc } from '../schema/validator.js';
import type { Store } from '../store/store.js';
import { cleanseMac } from './mac-address.js';
import { checkKeyCapacity } from './key-capacity.js';
import { checkLines } from './device-lines.js';
import { checkVendorParams } from '../provision/declared-params.js';
import { generatedPhonePasswords, keepStoredPasswords } from './phone-passwords.js';

/**
 * Field-name history: Kazoo renamed these keys, and clients speak both generations. Each pair is kept equal
 * and both are returned; when a write changes only one, it wins.
 */
const KEY_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['mwi_unsolicited_updates', 'mwi_unsolicitated_updates'],
  ['sip.expire_seconds', 'sip.registration_expiration'],
];

export interface DeviceContext {
  store: Store;
  account: AccountDoc;
  /** The stored device on update; undefined on create. */
  stored?: DeviceDoc;
  /** Whether the caller acts with the master account's token (may change device_type). */
  isMaster: boolean;
}

export interface PreparedDevice {
  fields: Record<string, unknown>;
  errors?: ValidationErrors;
  /** `"sync": true` was in the request: the phone should re-sync whatever changed. */
  sync?: { reboot: boolean };
}

/** Kazoo's device validation routine (cb_devices:validate_device) plus this product's stricter checks. */
export function prepareDevice(input: Record<string, unknown>, ctx: DeviceContext): PreparedDevice {
  const fields = input;
  const errors: ValidationErrors = {};
  const sync = takeSyncFlag(fields);

  prepareMac(fields, errors);
  prepareOutboundFlags(fields);
  prepareRealm(fields, ctx.account);
  dropNullKeys(fields, 'provision.feature_keys');
  dropNullKeys(fields, 'provision.combo_keys');
  reconcilePairs(fields, ctx.stored, errors);
  keepStoredPasswords(getPath(fields, 'provision.settings'), getPath(ctx.stored, 'provision.settings'));

  Object.assign(errors, validateDoc('devices', fields) ?? {});
  checkKeyCapacity(fields, errors);
  checkLines(fields, { store: ctx.store, accountId: ctx.account.id, selfId: ctx.stored?.id, storedMac: ctx.stored?.mac_address }, errors);
  checkVendorParams(getPath(fields, 'provision.settings'), 'provision.settings', errors);
  checkMacUnique(fields, ctx, errors);
  checkCredentials(fields, ctx, errors);
  checkOwner(fields, ctx, errors);
  checkDeviceTypeChange(fields, ctx, errors);

  // Once per device, kept private: the phone passwords used when no setting names one (src/provision/settings.ts).
  if (!(ctx.stored as { pvt_phone_passwords?: unknown } | undefined)?.pvt_phone_passwords) fields.pvt_phone_passwords = generatedPhonePasswords();

  return { fields, errors: Object.keys(errors).length ? errors : undefined, sync };
}

function takeSyncFlag(fields: Record<string, unknown>): { reboot: boolean } | undefined {
  const sync = fields.sync;
  const reboot = fields.reboot;
  delete fields.sync;
  delete fields.reboot;
  if (sync !== true && sync !== 'true') return undefined;
  return { reboot: reboot === true || reboot === 'true' };
}

function prepareMac(fields: Record<string, unknown>, errors: ValidationErrors): void {
  const raw = fields.mac_address;
  if (raw === '' ) {
    delete fields.mac_address;
    return;
  }
  if (typeof raw !== 'string') return; // the schema reports the type
  const mac = cleanseMac(raw);
  if (mac) fields.mac_address = mac;
  else addValidationError(errors, 'mac_address', 'invalid', { message: 'MAC address must be 12 hexadecimal digits (00:04:f2:ab:7e:fd, 00-04-f2-ab-7e-fd, 0004.f2ab.7efd)', cause: raw });
}

function prepareOutboundFlags(fields: Record<string, unknown>): void {
  if (!('outbound_flags' in fields)) return;
  const flags = fields.outbound_flags;
  fields.outbound_flags = Array.isArray(flags) ? flags.map((f) => (typeof f === 'string' ? f.trim() : f)) : [];
}

function prepareRealm(fields: Record<string, unknown>, account: AccountDoc): void {
  const realm = getPath(fields, 'sip.realm');
  if (typeof realm === 'string' && realm.toLowerCase() === account.realm.toLowerCase()) {
    delete (fields.sip as Record<string, unknown>).realm;
  }
}

function dropNullKeys(fields: Record<string, unknown>, path: string): void {
  const keys = getPath(fields, path);
  if (!isPlainObject(keys)) return;
  for (const [k, v] of Object.entries(keys)) if (v === null) delete keys[k];
}

function reconcilePairs(fields: Record<string, unknown>, stored: DeviceDoc | undefined, errors: ValidationErrors): void {
  for (const [a, b] of KEY_PAIRS) {
    const va = getPath(fields, a);
    const vb = getPath(fields, b);
    if (va === undefined && vb === undefined) continue;
    if (vb === undefined) setPath(fields, b, va);
    else if (va === undefined) setPath(fields, a, vb);
    else if (va !== vb) {
      // Both present and different: the one the client actually changed wins.
      if (stored && getPath(stored, a) === va) setPath(fields, a, vb);
      else if (stored && getPath(stored, b) === vb) setPath(fields, b, va);
      else addValidationError(errors, b, 'invalid', { message: `must equal ${a} (the same setting under its older name)`, cause: vb, target: va });
    }
  }
}

function checkMacUnique(fields: Record<string, unknown>, ctx: DeviceContext, errors: ValidationErrors): void {
  const mac = fields.mac_address;
  if (typeof mac !== 'string' || errors.mac_address) return;
  const owner = ctx.store.macOwner(mac);
  if (owner && owner !== ctx.stored?.id) addValidationError(errors, 'mac_address', 'unique', { message: 'MAC address already in use', cause: mac });
}

function checkCredentials(fields: Record<string, unknown>, ctx: DeviceContext, errors: ValidationErrors): void {
  const sip = isPlainObject(fields.sip) ? fields.sip : {};
  const selfId = ctx.stored?.id;
  if ((sip.method ?? 'password') === 'password') {
    const username = sip.username;
    if (typeof username !== 'string' || errors['sip.username']) return;
    const realm = typeof sip.realm === 'string' ? sip.realm : ctx.account.realm;
    const inAccount = ctx.store.sipUsernameOwner(ctx.account.id, username);
    const inRealm = ctx.store.sipRealmUsernameOwner(realm, username);
    if ((inAccount && inAccount !== selfId) || (inRealm && inRealm !== selfId)) {
      addValidationError(errors, 'sip.username', 'unique', { message: 'SIP credentials already in use', cause: username });
    }
  } else if (sip.method === 'ip') {
    const ip = sip.ip;
    if (typeof ip !== 'string' || !isIPv4(ip)) {
      addValidationError(errors, 'sip.ip', 'type', { message: 'Must be a valid IPv4 RFC 791', ...(ip === undefined ? {} : { cause: ip }) });
      return;
    }
    const owner = ctx.store.ipOwner(ip);
    if (owner && owner !== selfId) addValidationError(errors, 'sip.ip', 'unique', { message: 'SIP IP already in use', cause: ip });
  }
}

function checkOwner(fields: Record<string, unknown>, ctx: DeviceContext, errors: ValidationErrors): void {
  const owner = fields.owner_id;
  if (typeof owner !== 'string' || errors.owner_id) return;
  if (!ctx.store.getUser(ctx.account.id, owner)) {
    addValidationError(errors, 'owner_id', 'not_found', { message: 'Owner must be a user of this account', cause: owner });
  }
}

function checkDeviceTypeChange(fields: Record<string, unknown>, ctx: DeviceContext, errors: ValidationErrors): void {
  if (!ctx.stored || ctx.isMaster) return;
  if (ctx.stored.device_type !== fields.device_type) {
    addValidationError(errors, 'device_type', 'invalid', { message: 'Not authorized to change type of device', cause: fields.device_type ?? '' });
  }
}
