import type { AccountDoc, DeviceDoc, DeviceRef, UserDoc } from '../../../src/domain/types.js';
import type { Directory } from '../../../src/store/directory.js';

/** A tiny in-memory Directory for provisioning tests (the real store has its own tests). */
export class MemoryDirectory implements Directory {
  accounts = new Map<string, AccountDoc>();
  users = new Map<string, UserDoc>();
  devices = new Map<string, DeviceDoc>();
  private gen = 1;

  rev(): string {
    return `${this.gen++}-${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;
  }
  addAccount(doc: Partial<AccountDoc> & { id: string; realm: string }): AccountDoc {
    const a = { pvt_type: 'account', pvt_account_id: doc.id, pvt_created: 0, pvt_modified: 0, name: doc.id, pvt_tree: [], pvt_api_key: 'k', ...doc, _rev: this.rev() } as AccountDoc;
    this.accounts.set(a.id, a);
    return a;
  }
  addUser(accountId: string, doc: Partial<UserDoc> & { id: string }): UserDoc {
    const u = { pvt_type: 'user', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, ...doc, _rev: this.rev() } as UserDoc;
    this.users.set(u.id, u);
    return u;
  }
  addDevice(accountId: string, doc: Partial<DeviceDoc> & { id: string; name: string }): DeviceDoc {
    const d = { pvt_type: 'device', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, enabled: true, ...doc, _rev: this.rev() } as DeviceDoc;
    this.devices.set(d.id, d);
    return d;
  }
  /** Replaces a document's fields and bumps its _rev, as a store write would. */
  updateDevice(id: string, patch: Partial<DeviceDoc>): DeviceDoc {
    const d = { ...this.devices.get(id)!, ...patch, _rev: this.rev() } as DeviceDoc;
    this.devices.set(id, d);
    return d;
  }
  updateUser(id: string, patch: Partial<UserDoc>): UserDoc {
    const u = { ...this.users.get(id)!, ...patch, _rev: this.rev() } as UserDoc;
    this.users.set(id, u);
    return u;
  }
  updateAccount(id: string, patch: Partial<AccountDoc>): AccountDoc {
    const a = { ...this.accounts.get(id)!, ...patch, _rev: this.rev() } as AccountDoc;
    this.accounts.set(id, a);
    return a;
  }

  getAccount(id: string) {
    return this.accounts.get(id);
  }
  findAccountByRealm(realm: string) {
    return [...this.accounts.values()].find((a) => a.realm === realm);
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
  findDeviceBySipUsername(): DeviceRef | undefined {
    return undefined;
  }
  findDeviceByIp(): DeviceRef | undefined {
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
