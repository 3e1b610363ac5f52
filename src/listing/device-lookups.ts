import type { DomainEvents } from '../domain/events.js';
import type { AccountDoc, DeviceDoc, DeviceRef } from '../domain/types.js';
import { DeviceFieldIndex } from './device-field-index.js';
import type { FieldLookups } from './indexed-filters.js';

/** Paths of the listing's own index (the store indexes MACs already). */
export const LISTING_INDEXED_PATHS = ['owner_id', 'sip.username'] as const;

export interface DeviceLookupSource {
  findDeviceByMac(mac: string): DeviceRef | undefined;
  listAccounts(): AccountDoc[];
  listDevices(accountId: string): DeviceDoc[];
}

/**
 * The indexes `filter_{path}` device listings are answered from: `mac_address` by the store's MAC index (a
 * stored MAC is its index key, and MACs are unique across accounts), `owner_id` and `sip.username` by a
 * DeviceFieldIndex kept from the store's events (none without events).
 */
export function deviceFieldLookups(source: DeviceLookupSource, events?: DomainEvents): FieldLookups {
  const lookups: Record<string, FieldLookups[string]> = {
    mac_address: (accountId, mac) => {
      const ref = source.findDeviceByMac(mac);
      return ref && ref.account.id === accountId ? [ref.device.id] : [];
    },
  };
  if (events) {
    const index = new DeviceFieldIndex(LISTING_INDEXED_PATHS, source, events);
    for (const path of LISTING_INDEXED_PATHS) lookups[path] = index.lookup(path);
  }
  return lookups;
}
