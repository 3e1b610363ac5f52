import type { DeviceDoc, DeviceLineCopy } from '../domain/types.js';
import { getPath, isPlainObject } from '../domain/docs.js';
import { addValidationError, type ValidationErrors } from '../domain/validation.js';
import type { Store } from '../store/store.js';
import { knownModelOf } from './key-capacity.js';

/**
 * Several SIP accounts on one phone (DECT handsets, ATA ports). A Kazoo device is one SIP identity and MACs are
 * unique, so the phone's device document (the one with the MAC) lists its extra accounts in `provision.lines`:
 * 0-based account slot (as combo_keys and Kazoo's provisioner `settings.lines`; "0" is the phone's own device) →
 * `{device_id}` of another device of the same account that has no MAC. Each such device keeps its own SIP
 * credentials, owner and call settings in Kazoo; only the phone's file carries them, in its slot.
 *
 * The file is rendered from the phone's document alone (the render caches key on its revision), so the
 * credentials it needs are copied into the phone's private `pvt_lines` on every save, and a change or removal of
 * a referenced device re-saves the phone (DeviceService), which also re-syncs it as any change of its file does.
 */

/** What the phone's file needs of one referenced device. Private: never in a view or a listing. */
export type LineCopy = DeviceLineCopy;

type Lines = Record<string, { device_id?: unknown }>;

/** Model kinds whose files write provision.lines (vendors/*-models.ts `kind`). */
const MULTI_ACCOUNT_KINDS: ReadonlySet<string> = new Set(['dect_base', 'ata']);

function linesOf(doc: unknown): Lines | undefined {
  const lines = getPath(doc, 'provision.lines');
  return isPlainObject(lines) ? (lines as Lines) : undefined;
}

/** Devices of the account (other than `exceptId`) whose provision.lines name `deviceId` (the store's index). */
export function phonesUsing(store: Pick<Store, 'phonesWithLine'>, accountId: string, deviceId: string, exceptId?: string): DeviceDoc[] {
  return store.phonesWithLine(accountId, deviceId).filter((d) => d.id !== exceptId);
}

export interface LinesContext {
  store: Pick<Store, 'getDevice' | 'phonesWithLine'>;
  accountId: string;
  /** The device being saved; undefined on create. */
  selfId?: string;
  /** Whether the stored version had a MAC (a device that gains one may not be another phone's line). */
  storedMac?: string;
}

/**
 * The rules of provision.lines, each a 400 naming the field: the slot fits a known model's SIP accounts; the
 * device exists in this account, is not this device, has no MAC (a device with a MAC is a phone of its own), is
 * named once, and is no other phone's line. A device that is another phone's line may not get a MAC.
 */
export function checkLines(fields: Record<string, unknown>, ctx: LinesContext, errors: ValidationErrors): void {
  const mac = fields.mac_address;
  if (ctx.selfId && typeof mac === 'string' && !ctx.storedMac && !errors.mac_address) {
    const phone = phonesUsing(ctx.store, ctx.accountId, ctx.selfId)[0];
    if (phone) addValidationError(errors, 'mac_address', 'invalid', { message: `This device is line of device ${phone.id} (provision.lines): remove it there before giving it a MAC`, cause: mac });
  }
  const lines = linesOf(fields);
  if (!lines || Object.keys(errors).some((k) => k === 'provision.lines' || k.startsWith('provision.lines.'))) return;
  const model = knownModelOf(fields);
  // The files write extra accounts for DECT bases and ATAs only; on a desk or conference phone they would be
  // accepted and never reach the phone (its key layout would have to place them too), so they are refused.
  if (model && !MULTI_ACCOUNT_KINDS.has(model.kind) && Object.keys(lines).length > 0) {
    addValidationError(errors, 'provision.lines', 'invalid', {
      message: `${model.displayName} is a ${model.kind} phone: provision.lines (one device per extra SIP account) are written for DECT bases and ATAs only`,
      cause: Object.keys(lines).join(','),
      target: { model: model.model, kind: model.kind },
    });
    return;
  }
  const seen = new Set<string>();
  for (const [slot, line] of Object.entries(lines)) {
    const path = `provision.lines.${slot}`;
    if (model && Number(slot) + 1 > model.sipAccounts) {
      addValidationError(errors, path, 'maximum', {
        message: `${model.displayName} has ${model.sipAccounts} SIP accounts: slot ${slot} (0-based) does not exist on it`,
        cause: slot,
        target: { model: model.model, capacity: model.sipAccounts },
      });
      continue;
    }
    const id = line.device_id as string;
    const idPath = `${path}.device_id`;
    const target = ctx.store.getDevice(ctx.accountId, id);
    if (!target) addValidationError(errors, idPath, 'not_found', { message: 'Must be a device of this account', cause: id });
    else if (id === ctx.selfId) addValidationError(errors, idPath, 'invalid', { message: "A device's own account is slot 0, not a line", cause: id });
    else if (target.mac_address) addValidationError(errors, idPath, 'invalid', { message: 'That device has a MAC address: it is a phone of its own, not a line of this one', cause: id });
    else if (seen.has(id)) addValidationError(errors, idPath, 'unique', { message: 'The same device in two slots', cause: id });
    else {
      const other = phonesUsing(ctx.store, ctx.accountId, id, ctx.selfId)[0];
      if (other) addValidationError(errors, idPath, 'unique', { message: `Already a line of device ${other.id}`, cause: id });
    }
    seen.add(id);
  }
}

/** The private copies for a phone's provision.lines, from the devices as they are now (missing ones left out). */
export function lineCopies(fields: unknown, accountId: string, store: Pick<Store, 'getDevice'>): LineCopy[] | undefined {
  const lines = linesOf(fields);
  if (!lines) return undefined;
  const out: LineCopy[] = [];
  for (const [slot, line] of Object.entries(lines)) {
    const device = typeof line?.device_id === 'string' ? store.getDevice(accountId, line.device_id) : undefined;
    if (!device || device.mac_address) continue;
    const expire = device.sip?.expire_seconds;
    out.push({
      slot: Number(slot),
      device_id: device.id,
      username: device.sip?.username ?? '',
      password: device.sip?.password ?? '',
      realm: device.sip?.realm ?? '',
      name: device.caller_id?.internal?.name || device.name || '',
      ...(typeof expire === 'number' ? { expire_seconds: expire } : {}),
    });
  }
  return out.sort((a, b) => a.slot - b.slot);
}

/** The phone without the slots that named `deviceId` (for its removal). */
export function withoutLine(phone: DeviceDoc, deviceId: string): DeviceDoc {
  const lines = { ...(linesOf(phone) ?? {}) };
  for (const [slot, line] of Object.entries(lines)) if (line?.device_id === deviceId) delete lines[slot];
  return { ...phone, provision: { ...phone.provision, lines } };
}
