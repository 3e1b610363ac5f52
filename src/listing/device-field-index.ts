import { getPath } from '../domain/docs.js';
import type { DomainEvents } from '../domain/events.js';
import type { AccountDoc, DeviceDoc } from '../domain/types.js';
import type { FieldLookup } from './indexed-filters.js';
import { asText } from './query-filters.js';

/** One id, or several: most values (a MAC, a SIP username) belong to one device, so no Set is paid for them. */
type Ids = string | Set<string>;

/**
 * Device ids by the value at a few paths (`owner_id`, `sip.username`), per account, for `filter_{path}`
 * listings. Values are indexed as the filter compares them (asText); "" is not indexed (a filter for "" means
 * "lacking the key" and is answered by a scan). Built from the store once, then kept by the store's
 * device.changed events, which come once a write is durable, as the store's own indexes change.
 */
export class DeviceFieldIndex {
  /** account id -> path -> value -> ids */
  private readonly accounts = new Map<string, Map<string, Map<string, Ids>>>();

  constructor(
    private readonly paths: readonly string[],
    directory: { listAccounts(): AccountDoc[]; listDevices(accountId: string): DeviceDoc[] },
    events: DomainEvents,
  ) {
    // Build and subscribe in the same turn: no change can land in between.
    for (const account of directory.listAccounts()) for (const device of directory.listDevices(account.id)) this.add(device);
    events.on((event) => {
      if (event.type === 'device.changed') {
        if (event.before) this.remove(event.before);
        if (event.after) this.add(event.after);
      } else if (event.type === 'account.changed' && !event.after) {
        this.accounts.delete(event.accountId);
      }
    });
  }

  lookup(path: string): FieldLookup {
    return (accountId, value) => {
      const ids = this.accounts.get(accountId)?.get(path)?.get(value);
      if (ids === undefined) return [];
      return typeof ids === 'string' ? [ids] : [...ids];
    };
  }

  private add(doc: DeviceDoc): void {
    let byPath = this.accounts.get(doc.pvt_account_id);
    if (!byPath) this.accounts.set(doc.pvt_account_id, (byPath = new Map()));
    for (const path of this.paths) {
      const value = asText(getPath(doc, path));
      if (value === '') continue;
      let values = byPath.get(path);
      if (!values) byPath.set(path, (values = new Map()));
      const ids = values.get(value);
      if (ids === undefined) values.set(value, doc.id);
      else if (typeof ids === 'string') {
        if (ids !== doc.id) values.set(value, new Set([ids, doc.id]));
      } else ids.add(doc.id);
    }
  }

  private remove(doc: DeviceDoc): void {
    const byPath = this.accounts.get(doc.pvt_account_id);
    if (!byPath) return;
    for (const path of this.paths) {
      const value = asText(getPath(doc, path));
      const values = byPath.get(path);
      const ids = values?.get(value);
      if (!values || ids === undefined) continue;
      if (typeof ids === 'string') {
        if (ids === doc.id) values.delete(value);
      } else {
        ids.delete(doc.id);
        if (ids.size === 1) values.set(value, ids.values().next().value as string);
      }
    }
  }
}
