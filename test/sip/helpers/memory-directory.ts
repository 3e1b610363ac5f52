import { deepFreeze } from '../../../src/domain/freeze.js';
import type { Directory } from '../../../src/store/directory.js';
import type { AccountDoc, DeviceDoc, DeviceRef, UserDoc } from '../../../src/domain/types.js';

/** A tiny in-memory Directory for SIP tests (the real store is built elsewhere). Documents are frozen, as the store's. */
export class MemoryDirectory implements Directory {
  accounts = new Map<string, AccountDoc>();
  devices = new Map<string, DeviceDoc>();

  addAccount(id: string, realm: string): AccountDoc {
    const account = { id, _rev: '1-x', pvt_type: 'account', pvt_account_id: id, pvt_created: 0, pvt_modified: 0, name: id, realm, pvt_tree: [], pvt_api_key: 'k' } as AccountDoc;
    this.accounts.set(id, deepFreeze(account));
    return account;
  }

  addDevice(accountId: string, id: string, sip: DeviceDoc['sip'], extra: Partial<DeviceDoc> = {}): DeviceDoc {
    const device = { id, _rev: '1-x', pvt_type: 'device', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, name: id, sip, ...extra } as DeviceDoc;
    this.devices.set(id, deepFreeze(device));
    return device;
  }

  getAccount(accountId: string) {
    return this.accounts.get(accountId);
  }
  findAccountByRealm(realm: string) {
    return [...this.accounts.values()].find((a) => a.realm.toLowerCase() === realm.toLowerCase());
  }
  getUser(): UserDoc | undefined {
    return undefined;
  }
  getDevice(accountId: string, deviceId: string) {
    const d = this.devices.get(deviceId);
    return d && d.pvt_account_id === accountId ? d : undefined;
  }
  findDeviceByMac(): DeviceRef | undefined {
    return undefined;
  }
  findDeviceBySipUsername(realm: string, username: string): DeviceRef | undefined {
    for (const device of this.devices.values()) {
      const account = this.accounts.get(device.pvt_account_id)!;
      const realms = [account.realm, device.sip?.realm].filter(Boolean).map((r) => String(r).toLowerCase());
      if (realms.includes(realm.toLowerCase()) && device.sip?.username?.toLowerCase() === username.toLowerCase()) return { account, device };
    }
    return undefined;
  }
  findDeviceByIp(ip: string): DeviceRef | undefined {
    for (const device of this.devices.values()) {
      if (device.sip?.method === 'ip' && device.sip.ip === ip) return { account: this.accounts.get(device.pvt_account_id)!, device };
    }
    return undefined;
  }
  listDevices(accountId: string) {
    return [...this.devices.values()].filter((d) => d.pvt_account_id === accountId);
  }
  listAccounts() {
    return [...this.accounts.values()];
  }
}
