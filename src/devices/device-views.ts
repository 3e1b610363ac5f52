import type { DeviceDoc } from '../domain/types.js';
import { hiddenSettings } from './phone-passwords.js';

/** A device view without its write-only phone passwords (provision.settings.*_password → *_password_set). */
export function withoutPhoneSecrets(view: Record<string, unknown>): Record<string, unknown> {
  const provision = view.provision as Record<string, unknown> | undefined;
  if (!provision || provision.settings === undefined) return view;
  return { ...view, provision: { ...provision, settings: hiddenSettings(provision.settings) } };
}

/** Kazoo's devices/crossbar_listing row: keys whose value is undefined are absent. */
export function summaryRow(doc: DeviceDoc): Record<string, unknown> {
  const row: Record<string, unknown> = {
    call_recording: doc.call_recording,
    device_type: doc.device_type ?? 'sip_device',
    enabled: doc.enabled,
    flags: doc.flags ?? [],
    id: doc.id,
    mac_address: doc.mac_address ?? '',
    mobile: doc.mobile,
    name: doc.name,
    owner_id: doc.owner_id,
    username: doc.sip?.username,
  };
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined));
}

/** Kazoo's devices/listing_by_owner row for GET /users/{U}/devices. */
export function ownerRow(doc: DeviceDoc, userId: string): Record<string, unknown> {
  const row: Record<string, unknown> = {
    call_recording: doc.call_recording,
    device_type: doc.device_type ?? 'sip_device',
    enabled: doc.enabled,
    hotdesked: doc.owner_id !== userId,
    id: doc.id,
    mac_address: doc.mac_address ?? '',
    name: doc.name,
    owner_id: doc.owner_id,
  };
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined));
}

export function isOwnedOrHotdesked(doc: DeviceDoc, userId: string): boolean {
  return doc.owner_id === userId || Object.prototype.hasOwnProperty.call(doc.hotdesk?.users ?? {}, userId);
}
