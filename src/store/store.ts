import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AccountDoc, DeviceDoc, DeviceRef, StoredDoc, UserDoc } from '../domain/types.js';
import type { DomainEvents } from '../domain/events.js';
import type { Directory } from './directory.js';
import { ShardedCollection } from './sharded-collection.js';
import { deviceKeys, SortedIds, type DeviceKeys } from './device-index.js';

/**
 * Devices per account are spread over this many files (see ShardedCollection). Part of the on-disk layout.
 * Sized for a carrier account: at 100k devices a write re-serialises ~25 documents (~20 KB), not 100k.
 * Files only exist for shards that hold documents.
 */
export const DEVICE_SHARDS = 4096;
const USER_SHARDS = 16;

export const newId = (): string => randomBytes(16).toString('hex');

/** A write could not be made durable (disk full, I/O error…). Memory was rolled back; nothing changed. */
export class DatastoreError extends Error {
  constructor(readonly cause: unknown) {
    super(`datastore write failed: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

interface AccountData {
  users: ShardedCollection;
  devices: ShardedCollection;
  userDocs: Map<string, UserDoc>;
  deviceDocs: Map<string, DeviceDoc>;
  deviceOrder: SortedIds;
  /** lower(sip.username) -> device id, within the account. */
  usernames: Map<string, string>;
}

/**
 * The database: every document in memory with the indexes the API, the phone path and the registrar need,
 * persisted through lowdb files (one small file for accounts; per account, sharded files for users and devices).
 *
 * Writes are synchronous in memory — a caller that validates and then calls `save` without awaiting in
 * between can never lose a concurrent update — and each returned promise resolves once the change is durable.
 * A failed disk write restores the previous document and rejects.
 */
export class Store implements Directory {
  private readonly accounts = new Map<string, AccountDoc>();
  /** Cached answer of masterAccount(); null = not computed since the last account change. */
  private master: AccountDoc | undefined | null = null;
  private readonly accountCollection: ShardedCollection;
  private readonly perAccount = new Map<string, AccountData>();
  private readonly realms = new Map<string, string>();
  private readonly apiKeys = new Map<string, string>();
  private readonly macs = new Map<string, DeviceRefKey>();
  private readonly ips = new Map<string, DeviceRefKey>();
  /** "<lower realm>|<lower username>" for devices with their own sip.realm. */
  private readonly customRealmUsers = new Map<string, DeviceRefKey>();

  private constructor(
    readonly dataDir: string,
    private readonly events: DomainEvents,
  ) {
    this.accountCollection = new ShardedCollection(path.join(dataDir, 'system', 'accounts'), 1);
  }

  static async open(dataDir: string, events: DomainEvents): Promise<Store> {
    const store = new Store(dataDir, events);
    await store.load();
    return store;
  }

  private accountDir(accountId: string): string {
    return path.join(this.dataDir, 'accounts', accountId);
  }

  private dataOf(accountId: string): AccountData {
    let data = this.perAccount.get(accountId);
    if (!data) {
      data = {
        users: new ShardedCollection(path.join(this.accountDir(accountId), 'users'), USER_SHARDS),
        devices: new ShardedCollection(path.join(this.accountDir(accountId), 'devices'), DEVICE_SHARDS),
        userDocs: new Map(),
        deviceDocs: new Map(),
        deviceOrder: new SortedIds(),
        usernames: new Map(),
      };
      this.perAccount.set(accountId, data);
    }
    return data;
  }

  private async load(): Promise<void> {
    for (const doc of await this.accountCollection.load()) this.indexAccount(doc as AccountDoc);
    for (const account of this.accounts.values()) {
      const data = this.dataOf(account.id);
      for (const doc of await data.users.load()) data.userDocs.set(doc.id, doc as UserDoc);
      for (const doc of await data.devices.load()) this.indexDevice(doc as DeviceDoc);
    }
  }

  // ---------------------------------------------------------------- Directory (reads)

  getAccount(accountId: string): AccountDoc | undefined {
    return this.accounts.get(accountId);
  }
  findAccountByRealm(realm: string): AccountDoc | undefined {
    const id = this.realms.get(realm.toLowerCase());
    return id ? this.accounts.get(id) : undefined;
  }
  findAccountByApiKey(apiKey: string): AccountDoc | undefined {
    const id = this.apiKeys.get(apiKey);
    return id ? this.accounts.get(id) : undefined;
  }
  findAccountsByName(name: string): AccountDoc[] {
    const wanted = name.toLowerCase();
    return [...this.accounts.values()].filter((a) => a.name.toLowerCase() === wanted);
  }
  listAccounts(): AccountDoc[] {
    return [...this.accounts.values()];
  }
  /**
   * The master account: the first top-level account created. Asked on every scoped request and device save,
   * so it is found once and forgotten whenever an account is added, changed or removed.
   */
  masterAccount(): AccountDoc | undefined {
    if (this.master === null) {
      let master: AccountDoc | undefined;
      for (const account of this.accounts.values()) {
        if (account.pvt_tree.length === 0 && (!master || account.pvt_created < master.pvt_created)) master = account;
      }
      this.master = master;
    }
    return this.master;
  }
  getUser(accountId: string, userId: string): UserDoc | undefined {
    return this.perAccount.get(accountId)?.userDocs.get(userId);
  }
  listUsers(accountId: string): UserDoc[] {
    return [...(this.perAccount.get(accountId)?.userDocs.values() ?? [])];
  }
  getDevice(accountId: string, deviceId: string): DeviceDoc | undefined {
    return this.perAccount.get(accountId)?.deviceDocs.get(deviceId);
  }
  listDevices(accountId: string): DeviceDoc[] {
    return [...(this.perAccount.get(accountId)?.deviceDocs.values() ?? [])];
  }
  /** Device ids of an account in id order, from `startKey` inclusive. */
  deviceIdsFrom(accountId: string, startKey: string | undefined, descending = false): Iterable<string> {
    return this.perAccount.get(accountId)?.deviceOrder.from(startKey, descending) ?? [];
  }
  deviceCount(accountId: string): number {
    return this.perAccount.get(accountId)?.deviceOrder.size ?? 0;
  }
  findDeviceByMac(mac: string): DeviceRef | undefined {
    return this.resolve(this.macs.get(mac));
  }
  findDeviceByIp(ip: string): DeviceRef | undefined {
    return this.resolve(this.ips.get(ip));
  }
  findDeviceBySipUsername(realm: string, username: string): DeviceRef | undefined {
    const custom = this.resolve(this.customRealmUsers.get(`${realm.toLowerCase()}|${username.toLowerCase()}`));
    if (custom) return custom;
    const account = this.findAccountByRealm(realm);
    if (!account) return undefined;
    const id = this.perAccount.get(account.id)?.usernames.get(username.toLowerCase());
    const device = id ? this.getDevice(account.id, id) : undefined;
    // A device with its own realm answers only to that realm.
    return device && !deviceKeys(device).customRealm ? { account, device } : undefined;
  }
  /** Id of the device in this account already using `username` (case-insensitive), if any. */
  sipUsernameOwner(accountId: string, username: string): string | undefined {
    return this.perAccount.get(accountId)?.usernames.get(username.toLowerCase());
  }
  customRealmUsernameOwner(realm: string, username: string): string | undefined {
    return this.customRealmUsers.get(`${realm.toLowerCase()}|${username.toLowerCase()}`)?.deviceId;
  }
  macOwner(mac: string): string | undefined {
    return this.macs.get(mac)?.deviceId;
  }
  ipOwner(ip: string): string | undefined {
    return this.ips.get(ip)?.deviceId;
  }

  private resolve(key: DeviceRefKey | undefined): DeviceRef | undefined {
    if (!key) return undefined;
    const account = this.accounts.get(key.accountId);
    const device = this.getDevice(key.accountId, key.deviceId);
    return account && device ? { account, device } : undefined;
  }

  // ---------------------------------------------------------------- indexes

  private indexAccount(doc: AccountDoc, previous?: AccountDoc): void {
    this.master = null;
    if (previous) {
      this.realms.delete(previous.realm.toLowerCase());
      this.apiKeys.delete(previous.pvt_api_key);
    }
    this.accounts.set(doc.id, doc);
    this.realms.set(doc.realm.toLowerCase(), doc.id);
    this.apiKeys.set(doc.pvt_api_key, doc.id);
  }

  private unindexAccount(doc: AccountDoc): void {
    this.master = null;
    this.accounts.delete(doc.id);
    this.realms.delete(doc.realm.toLowerCase());
    this.apiKeys.delete(doc.pvt_api_key);
  }

  private indexDevice(doc: DeviceDoc): void {
    const data = this.dataOf(doc.pvt_account_id);
    data.deviceDocs.set(doc.id, doc);
    data.deviceOrder.add(doc.id);
    this.addKeys(doc.pvt_account_id, doc.id, deviceKeys(doc));
  }

  private unindexDevice(doc: DeviceDoc): void {
    const data = this.dataOf(doc.pvt_account_id);
    data.deviceDocs.delete(doc.id);
    data.deviceOrder.remove(doc.id);
    this.removeKeys(doc.pvt_account_id, doc.id, deviceKeys(doc));
  }

  private addKeys(accountId: string, deviceId: string, keys: DeviceKeys): void {
    const ref = { accountId, deviceId };
    if (keys.mac) this.macs.set(keys.mac, ref);
    if (keys.ip) this.ips.set(keys.ip, ref);
    if (keys.username) {
      this.dataOf(accountId).usernames.set(keys.username, deviceId);
      if (keys.customRealm) this.customRealmUsers.set(`${keys.customRealm}|${keys.username}`, ref);
    }
  }

  private removeKeys(accountId: string, deviceId: string, keys: DeviceKeys): void {
    const owned = (map: Map<string, DeviceRefKey>, key: string | undefined) => {
      if (key && map.get(key)?.deviceId === deviceId) map.delete(key);
    };
    owned(this.macs, keys.mac);
    owned(this.ips, keys.ip);
    if (keys.username) {
      const usernames = this.dataOf(accountId).usernames;
      if (usernames.get(keys.username) === deviceId) usernames.delete(keys.username);
      if (keys.customRealm) owned(this.customRealmUsers, `${keys.customRealm}|${keys.username}`);
    }
  }

  // ---------------------------------------------------------------- writes

  /**
   * Stores `doc` (a new object, never a mutated stored one): stamps `_rev`/`pvt_modified` (and
   * `pvt_created` on create), updates indexes now, resolves once durable, then announces the change.
   */
  async save<T extends StoredDoc>(doc: T, options: { sync?: { reboot: boolean } } = {}): Promise<T> {
    const previous = this.current(doc);
    const generation = previous ? Number.parseInt(previous._rev, 10) + 1 : 1;
    const now = Math.floor(Date.now() / 1000);
    doc.pvt_created = previous?.pvt_created ?? doc.pvt_created ?? now;
    doc.pvt_modified = now;
    doc._rev = `${generation}-${randomBytes(16).toString('hex')}`;
    this.place(doc, previous);
    try {
      await this.collectionOf(doc).commit(doc.id, doc);
    } catch (err) {
      if (this.current(doc) === doc) {
        this.place(previous, doc);
        this.collectionOf(doc).restore(doc.id, previous);
      }
      throw new DatastoreError(err);
    }
    this.announce(doc.pvt_type, doc.pvt_account_id, doc.id, previous, doc, options.sync);
    return doc;
  }

  /** Removes a user or device document; resolves once durable. */
  async remove<T extends UserDoc | DeviceDoc>(doc: T): Promise<void> {
    const previous = this.current(doc);
    if (!previous) return;
    this.place(undefined, previous);
    try {
      await this.collectionOf(doc).commit(doc.id, undefined);
    } catch (err) {
      this.place(previous, undefined);
      this.collectionOf(doc).restore(doc.id, previous);
      throw new DatastoreError(err);
    }
    this.announce(doc.pvt_type, doc.pvt_account_id, doc.id, previous, undefined);
  }

  /** Removes an account with all its users and devices (the caller refuses accounts with children). */
  async removeAccount(account: AccountDoc): Promise<void> {
    const data = this.perAccount.get(account.id);
    for (const device of data?.deviceDocs.values() ?? []) this.removeKeys(account.id, device.id, deviceKeys(device));
    this.unindexAccount(account);
    await this.accountCollection.commit(account.id, undefined);
    this.perAccount.delete(account.id);
    await data?.users.destroy();
    await data?.devices.destroy();
    this.announce('account', account.id, account.id, account, undefined);
  }

  private current(doc: StoredDoc): StoredDoc | undefined {
    switch (doc.pvt_type) {
      case 'account':
        return this.accounts.get(doc.id);
      case 'user':
        return this.getUser(doc.pvt_account_id, doc.id);
      case 'device':
        return this.getDevice(doc.pvt_account_id, doc.id);
    }
  }

  /** Swaps `previous` for `next` in memory and in every index (either may be undefined). */
  private place(next: StoredDoc | undefined, previous: StoredDoc | undefined): void {
    const sample = next ?? previous;
    if (!sample) return;
    switch (sample.pvt_type) {
      case 'account':
        if (next) this.indexAccount(next as AccountDoc, previous as AccountDoc | undefined);
        else this.unindexAccount(previous as AccountDoc);
        return;
      case 'user': {
        const users = this.dataOf(sample.pvt_account_id).userDocs;
        if (next) users.set(next.id, next as UserDoc);
        else users.delete(sample.id);
        return;
      }
      case 'device':
        if (previous) this.unindexDevice(previous as DeviceDoc);
        if (next) this.indexDevice(next as DeviceDoc);
    }
  }

  private collectionOf(doc: StoredDoc): ShardedCollection {
    if (doc.pvt_type === 'account') return this.accountCollection;
    const data = this.dataOf(doc.pvt_account_id);
    return doc.pvt_type === 'user' ? data.users : data.devices;
  }

  private announce(
    type: StoredDoc['pvt_type'],
    accountId: string,
    id: string,
    before?: StoredDoc,
    after?: StoredDoc,
    sync?: { reboot: boolean },
  ): void {
    const snap = <T>(d: T | undefined) => (d === undefined ? undefined : structuredClone(d));
    if (type === 'device') {
      this.events.emit({ type: 'device.changed', accountId, deviceId: id, before: snap(before as DeviceDoc), after: snap(after as DeviceDoc), sync });
    } else if (type === 'user') {
      this.events.emit({ type: 'user.changed', accountId, userId: id, before: snap(before as UserDoc), after: snap(after as UserDoc) });
    } else {
      this.events.emit({ type: 'account.changed', accountId, before: snap(before as AccountDoc), after: snap(after as AccountDoc) });
    }
  }
}

interface DeviceRefKey {
  accountId: string;
  deviceId: string;
}
