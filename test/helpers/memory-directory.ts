import { deepFreeze } from '../../src/domain/freeze.js';
import type { AccountDoc, DeviceDoc, DeviceRef, UserDoc } from '../../src/domain/types.js';
import type { Directory } from '../../src/store/directory.js';

/**
 * The one in-memory Directory for SIP and provisioning tests (the real store has its own tests). It answers
 * lookups as the store does (test/provision/memory-directory.test.ts holds it to that): realms and SIP
 * usernames case-insensitively, a device with its own sip.realm only under that realm, MACs exactly (already
 * cleansed), IP devices by address. Documents are frozen, as the store's; add/update replace them
 * and bump `_rev`, as a store write would. `changes` moves on every change, as the store's, including a test's
 * own set or delete on the maps.
 */
class CountingMap<K, V> extends Map<K, V> {
  constructor(private readonly counter: { changes: number }) {
    super();
  }
  override set(key: K, value: V): this {
    this.counter.changes++;
    return super.set(key, value);
  }
  override delete(key: K): boolean {
    this.counter.changes++;
    return super.delete(key);
  }
}

export class MemoryDirectory implements Directory {
  private readonly counter = { changes: 0 };
  accounts: Map<string, AccountDoc> = new CountingMap(this.counter);
  users: Map<string, UserDoc> = new CountingMap(this.counter);
  devices: Map<string, DeviceDoc> = new CountingMap(this.counter);
  private gen = 1;

  get changes(): number {
    return this.counter.changes;
  }

  rev(): string {
    return `${this.gen++}-${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;
  }
  addAccount(doc: Partial<AccountDoc> & { id: string; realm: string }): AccountDoc {
    const a = { pvt_type: 'account', pvt_account_id: doc.id, pvt_created: 0, pvt_modified: 0, name: doc.id, pvt_tree: [], pvt_api_key: 'k', ...doc, _rev: this.rev() } as AccountDoc;
    this.accounts.set(a.id, deepFreeze(a));
    return a;
  }
  addUser(accountId: string, doc: Partial<UserDoc> & { id: string }): UserDoc {
    const u = { pvt_type: 'user', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, ...doc, _rev: this.rev() } as UserDoc;
    this.users.set(u.id, deepFreeze(u));
    return u;
  }
  /** A device (named by its id unless `name` is given). */
  addDevice(accountId: string, doc: Partial<DeviceDoc> & { id: string }): DeviceDoc {
    const d = { pvt_type: 'device', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, enabled: true, name: doc.id, ...doc, _rev: this.rev() } as DeviceDoc;
    this.devices.set(d.id, deepFreeze(d));
    return d;
  }
  updateDevice(id: string, patch: Partial<DeviceDoc>): DeviceDoc {
    return this.addDevice(this.devices.get(id)!.pvt_account_id, { ...this.devices.get(id)!, ...patch });
  }
  updateUser(id: string, patch: Partial<UserDoc>): UserDoc {
    return this.addUser(this.users.get(id)!.pvt_account_id, { ...this.users.get(id)!, ...patch });
  }
  updateAccount(id: string, patch: Partial<AccountDoc>): AccountDoc {
    return this.addAccount({ ...this.accounts.get(id)!, ...patch });
  }

  getAccount(id: string) {
    return this.accounts.get(id);
  }
  findAccountByRealm(realm: string) {
    return [...this.accounts.values()].find((a) => a.realm.toLowerCase() === realm.toLowerCase());
  }
  getUser(accountId: string, userId: string) {
    const u = this.users.get(userId);
    return u && u.pvt_account_id === accountId ? u : undefined;
  }
  getDevice(accountId: string, deviceId: string) {
    const d = this.devices.get(deviceId);
    return d && d.pvt_account_id === accountId ? d : undefined;
  }
  findDeviceByMac(mac: string): DeviceRef | undefined {
    for (const d of this.devices.values()) {
      if (d.mac_address === mac) return { device: d, account: this.accounts.get(d.pvt_account_id)! };
    }
    return undefined;
  }
  findDeviceBySipUsername(realm: string, username: string): DeviceRef | undefined {
    for (const device of this.devices.values()) {
      if ((device.sip?.method ?? 'password') !== 'password') continue;
      const account = this.accounts.get(device.pvt_account_id)!;
      // A device with its own realm answers only to that realm, as in the store.
      const answersTo = (device.sip?.realm || account.realm).toLowerCase();
      if (answersTo === realm.toLowerCase() && device.sip?.username?.toLowerCase() === username.toLowerCase()) return { account, device };
    }
    return undefined;
  }
  findDeviceByIp(ip: string): DeviceRef | undefined {
    for (const device of this.devices.values()) {
      if (device.sip?.method === 'ip' && device.sip.ip === ip) return { account: this.accounts.get(device.pvt_account_id)!, device };
    }
    return undefined;
  }
  listUsers(accountId: string) {
    return [...this.users.values()].filter((u) => u.pvt_account_id === accountId);
  }
  listDevices(accountId: string) {
    return [...this.devices.values()].filter((d) => d.pvt_account_id === accountId);
  }
  listAccounts() {
    return [...this.accounts.values()];
  }
}
