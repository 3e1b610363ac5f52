import type { AccountDoc, DeviceDoc, DeviceRef, UserDoc } from '../domain/types.js';

/**
 * The read side of the store, as provisioning and SIP see it. Every lookup is an in-memory index hit:
 * the phone-facing paths (config fetch by MAC, REGISTER by username) must never scan.
 * Returned documents are the live stored objects: treat them as read-only.
 */
export interface Directory {
  getAccount(accountId: string): AccountDoc | undefined;
  findAccountByRealm(realm: string): AccountDoc | undefined;
  getUser(accountId: string, userId: string): UserDoc | undefined;
  getDevice(accountId: string, deviceId: string): DeviceDoc | undefined;
  /** `mac` must already be cleansed (12 lowercase hex digits). MACs are unique across all accounts. */
  findDeviceByMac(mac: string): DeviceRef | undefined;
  /** Username is matched case-insensitively; realm is the account realm (or the device's own sip.realm). */
  findDeviceBySipUsername(realm: string, username: string): DeviceRef | undefined;
  /** Devices with sip.method = "ip" by their sip.ip. */
  findDeviceByIp(ip: string): DeviceRef | undefined;
  listDevices(accountId: string): DeviceDoc[];
  /** The account's users (phonebook files); optional so minimal directories need not list them. */
  listUsers?(accountId: string): UserDoc[];
  listAccounts(): AccountDoc[];
  /**
   * A count that moves whenever any document in memory changes (optional): a holder that checked documents at
   * one count knows they are all as it saw them while the count has not moved.
   */
  readonly changes?: number;
}
