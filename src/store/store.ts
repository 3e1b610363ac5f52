import path from 'node:path';
import type pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { AccountDoc, DeviceDoc, DeviceRef, StoredDoc, UserDoc } from '../domain/types.js';
import type { ChangeOrigin, DomainEvents } from '../domain/events.js';
import type { Directory } from './directory.js';
import type { WriteFile } from './json-file-adapter.js';
import type { SecretBox } from './secret-box.js';
import type { PoolSettings } from './postgres/connection.js';
import { PendingWrites } from './pending-writes.js';
import { deviceKeys, SortedIds, type DeviceKeys } from './device-index.js';
import { deepFreeze } from '../domain/freeze.js';
import { StaleWriteError, UniqueKeyTaken, type StoreBackend } from './backend.js';
import { LowdbBackend } from './lowdb-backend.js';
import { claimKeys, durableClaims, uniqueKeyError } from './claims.js';
import { generationOf, isTombstone, newRevision, tombstoneOf } from './tombstones.js';

export { DEVICE_SHARDS } from './lowdb-backend.js';
export { StaleWriteError } from './backend.js';

export const newId = (): string => randomBytes(16).toString('hex');

/** A write could not be made durable (disk full, I/O error…). Nothing changed: memory only follows durable writes. */
export class DatastoreError extends Error {
  constructor(readonly cause: unknown) {
    super(`datastore write failed: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export interface StoreOptions {
  /** Test seam: how a data file is made durable (default: temp file, fsync, rename). */
  writeFile?: WriteFile;
  /** Key sealing account secrets (SECRETS_KEY_FILE); default DATA_DIR/system/secrets.key, created at first start. */
  secretsKeyFile?: string;
  /** DATABASE_URL: documents live in this PostgreSQL database instead of DATA_DIR's lowdb files. */
  databaseUrl?: string;
  /** With databaseUrl: the pool's size and timeouts (tests make it small; the defaults are production's). */
  databasePool?: PoolSettings;
}

interface AccountData {
  userDocs: Map<string, UserDoc>;
  deviceDocs: Map<string, DeviceDoc>;
  deviceOrder: SortedIds;
  /** lower(sip.username) -> device id, within the account. */
  usernames: Map<string, string>;
  /** Ids of deleted users and devices (their tombstones): never given out again. */
  deleted: Set<string>;
  /** Line device id -> ids of the phones whose provision.lines name it (a save of a line re-saves them). */
  phonesByLine: Map<string, Set<string>>;
}

/** The device ids a phone's provision.lines name (any slot). */
function lineIdsOf(doc: DeviceDoc): string[] {
  const lines = (doc.provision as { lines?: unknown } | undefined)?.lines;
  if (!lines || typeof lines !== 'object') return [];
  const ids: string[] = [];
  for (const line of Object.values(lines as Record<string, unknown>)) {
    const id = (line as { device_id?: unknown } | null)?.device_id;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

/**
 * The database: every document in memory with the indexes the API, the phone path and the registrar need,
 * persisted through a StoreBackend: lowdb files under DATA_DIR (the embedded default) or PostgreSQL
 * (DATABASE_URL, shared by several nodes; changes other nodes commit arrive through its change feed).
 *
 * Memory follows the disk: what readers see changes only once a write is durable, and a refused write changes
 * nothing. Writers build on `latest` (which counts pending writes) and check uniqueness with the `*Owner`
 * methods (which count keys claimed by pending writes), so a caller that validates and then calls `save` without
 * awaiting in between never loses a concurrent update nor breaks a unique key.
 */
export class Store implements Directory {
  private readonly accounts = new Map<string, AccountDoc>();
  /** Cached answer of masterAccount(); null = not computed since the last account change. */
  private master: AccountDoc | undefined | null = null;
  private readonly perAccount = new Map<string, AccountData>();
  private readonly pending = new PendingWrites();
  /** Accounts whose deletion is under way: no writes to them. */
  private readonly removing = new Set<string>();
  private readonly realms = new Map<string, string>();
  /** Ids of deleted accounts (their tombstones stay in the accounts file): never given out again. */
  private readonly deletedAccounts = new Set<string>();
  /** SecretBox.index(api key) -> account id: api_auth finds the account without the key itself as a map key. */
  private readonly apiKeys = new Map<string, string>();
  private readonly macs = new Map<string, DeviceRefKey>();
  private readonly ips = new Map<string, DeviceRefKey>();
  /** "<lower realm>|<lower username>" for devices with their own sip.realm. */
  private readonly customRealmUsers = new Map<string, DeviceRefKey>();

  private readonly secrets: SecretBox;
  private changeCount = 0;

  private constructor(
    readonly dataDir: string,
    private readonly events: DomainEvents,
    private readonly backend: StoreBackend,
  ) {
    this.secrets = backend.secrets;
  }

  static async open(dataDir: string, events: DomainEvents, options: StoreOptions = {}): Promise<Store> {
    const secretsKeyFile = options.secretsKeyFile ?? path.join(dataDir, 'system', 'secrets.key');
    const backend = options.databaseUrl
      ? await (await import('./postgres/backend.js')).PostgresBackend.open(options.databaseUrl, { secretsKeyFile, pool: options.databasePool })
      : await LowdbBackend.open(dataDir, { secretsKeyFile, writeFile: options.writeFile });
    return Store.openOn(dataDir, events, backend);
  }

  /** A store on a backend already opened (tests, the migration command). */
  static async openOn(dataDir: string, events: DomainEvents, backend: StoreBackend): Promise<Store> {
    const store = new Store(dataDir, events, backend);
    try {
      await store.load();
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
    backend.follow?.((doc) => store.applyRemote(doc));
    return store;
  }

  /**
   * The store's PostgreSQL pool (DATABASE_URL), which the cluster parts share, so a node holds one pool; it ends
   * with close(). Undefined on lowdb.
   */
  databasePool(): pg.Pool | undefined {
    return this.backend.databasePool?.();
  }

  /** Seals and opens secrets with SECRETS_KEY_FILE (the cluster's token key is kept sealed in the database). */
  sealer(): Pick<SecretBox, 'seal' | 'open'> {
    return this.secrets;
  }

  /** Lets queued writes finish and stops the backend's background work (change feed, connections). */
  close(): Promise<void> {
    return this.backend.close();
  }

  private dataOf(accountId: string): AccountData {
    let data = this.perAccount.get(accountId);
    if (!data) {
      data = {
        userDocs: new Map(),
        deviceDocs: new Map(),
        deviceOrder: new SortedIds(),
        usernames: new Map(),
        deleted: new Set(),
        phonesByLine: new Map(),
      };
      this.perAccount.set(accountId, data);
    }
    return data;
  }

  private async load(): Promise<void> {
    for (const doc of await this.backend.load()) {
      if (doc.pvt_type === 'account') {
        if (isTombstone(doc)) this.deletedAccounts.add(doc.id);
        else this.indexAccount(deepFreeze(doc) as AccountDoc);
        continue;
      }
      if (!this.accounts.has(doc.pvt_account_id)) continue;
      const data = this.dataOf(doc.pvt_account_id);
      if (isTombstone(doc)) data.deleted.add(doc.id);
      else if (doc.pvt_type === 'user') data.userDocs.set(doc.id, deepFreeze(doc) as UserDoc);
      else this.indexDevice(deepFreeze(doc) as DeviceDoc, 'append');
    }
  }

  // ---------------------------------------------------------------- Directory (reads)

  getAccount(accountId: string): AccountDoc | undefined {
    return this.accounts.get(accountId);
  }
  /** Moves on every change of a document in memory (place, forgetAccount: the only places memory changes). */
  get changes(): number {
    return this.changeCount;
  }
  findAccountByRealm(realm: string): AccountDoc | undefined {
    const id = this.realms.get(realm.toLowerCase());
    return id ? this.accounts.get(id) : undefined;
  }
  findAccountByApiKey(apiKey: string): AccountDoc | undefined {
    const id = this.apiKeys.get(this.secrets.index(apiKey));
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
  /** The phones whose provision.lines name device `lineId` (an index: a save of any device asks this). */
  phonesWithLine(accountId: string, lineId: string): DeviceDoc[] {
    const data = this.perAccount.get(accountId);
    const ids = data?.phonesByLine.get(lineId);
    if (!ids) return [];
    return [...ids].map((id) => data!.deviceDocs.get(id)!).filter(Boolean);
  }
  /** Device ids of an account in id order, from `startKey` inclusive. */
  deviceIdsFrom(accountId: string, startKey: string | undefined, descending = false): Iterable<string> {
    return this.perAccount.get(accountId)?.deviceOrder.from(startKey, descending) ?? [];
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

  // Uniqueness checks (the owner of a key, committed or claimed by a pending write): for writers only.

  /** Id of the device in this account already using `username` (case-insensitive), if any. */
  sipUsernameOwner(accountId: string, username: string): string | undefined {
    const lower = username.toLowerCase();
    return this.perAccount.get(accountId)?.usernames.get(lower) ?? this.pending.claimant(`sip-user|${accountId}|${lower}`);
  }
  customRealmUsernameOwner(realm: string, username: string): string | undefined {
    const key = `${realm.toLowerCase()}|${username.toLowerCase()}`;
    return this.customRealmUsers.get(key)?.deviceId ?? this.pending.claimant(`sip-realm-user|${key}`);
  }
  /** Id of a device answering to `username` under `realm`: with it as its own realm, or as its account's. */
  sipRealmUsernameOwner(realm: string, username: string): string | undefined {
    const committed = this.findDeviceBySipUsername(realm, username)?.device.id ?? this.customRealmUsernameOwner(realm, username);
    if (committed) return committed;
    const account = this.findAccountByRealm(realm);
    return account ? this.pending.claimant(`sip-plain-user|${account.id}|${username.toLowerCase()}`) : undefined;
  }
  macOwner(mac: string): string | undefined {
    return this.macs.get(mac)?.deviceId ?? this.pending.claimant(`mac|${mac}`);
  }
  ipOwner(ip: string): string | undefined {
    return this.ips.get(ip)?.deviceId ?? this.pending.claimant(`ip|${ip}`);
  }
  /** Id of the account using `realm` (case-insensitive), if any. */
  realmOwner(realm: string): string | undefined {
    const lower = realm.toLowerCase();
    return this.realms.get(lower) ?? this.pending.claimant(`realm|${lower}`);
  }
  /** Id of a user of this account other than `selfId` with this username (case-insensitive), if any. */
  userNameOwner(accountId: string, username: string, selfId?: string): string | undefined {
    const lower = username.toLowerCase();
    for (const user of this.perAccount.get(accountId)?.userDocs.values() ?? []) {
      if (user.id !== selfId && user.username?.toLowerCase() === lower) return user.id;
    }
    return this.pending.claimant(`username|${accountId}|${lower}`, selfId);
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
      this.apiKeys.delete(this.secrets.index(previous.pvt_api_key));
    }
    this.accounts.set(doc.id, doc);
    this.realms.set(doc.realm.toLowerCase(), doc.id);
    this.apiKeys.set(this.secrets.index(doc.pvt_api_key), doc.id);
  }

  private unindexAccount(doc: AccountDoc): void {
    this.master = null;
    this.accounts.delete(doc.id);
    this.realms.delete(doc.realm.toLowerCase());
    this.apiKeys.delete(this.secrets.index(doc.pvt_api_key));
  }

  /** `order`: 'insert' (a write), 'append' (a load: sorted once), 'kept' (an update: the id is in its place). */
  private indexDevice(doc: DeviceDoc, order: 'insert' | 'append' | 'kept' = 'insert'): void {
    const data = this.dataOf(doc.pvt_account_id);
    data.deviceDocs.set(doc.id, doc);
    if (order === 'insert') data.deviceOrder.add(doc.id);
    else if (order === 'append') data.deviceOrder.append(doc.id);
    this.addKeys(doc.pvt_account_id, doc.id, deviceKeys(doc));
    for (const line of lineIdsOf(doc)) {
      let phones = data.phonesByLine.get(line);
      if (!phones) data.phonesByLine.set(line, (phones = new Set()));
      phones.add(doc.id);
    }
  }

  private unindexDevice(doc: DeviceDoc, keepOrder = false): void {
    const data = this.dataOf(doc.pvt_account_id);
    data.deviceDocs.delete(doc.id);
    if (!keepOrder) data.deviceOrder.remove(doc.id);
    this.removeKeys(doc.pvt_account_id, doc.id, deviceKeys(doc));
    for (const line of lineIdsOf(doc)) {
      const phones = data.phonesByLine.get(line);
      phones?.delete(doc.id);
      if (phones?.size === 0) data.phonesByLine.delete(line);
    }
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
   * The newest version of each document, counting writes not yet durable. What a writer builds on (PATCH merges
   * into it, If-Match compares with it, a create checks its id against it); never shown to readers.
   */
  readonly latest: Pick<Directory, 'getAccount' | 'getUser' | 'getDevice'> = {
    getAccount: (accountId) => this.newestOf('account', accountId, accountId, () => this.getAccount(accountId)) as AccountDoc | undefined,
    getUser: (accountId, userId) => this.newestOf('user', accountId, userId, () => this.getUser(accountId, userId)) as UserDoc | undefined,
    getDevice: (accountId, deviceId) => this.newestOf('device', accountId, deviceId, () => this.getDevice(accountId, deviceId)) as DeviceDoc | undefined,
  };

  private newestOf(type: StoredDoc['pvt_type'], accountId: string, id: string, committed: () => StoredDoc | undefined): StoredDoc | undefined {
    const pending = this.pending.newest(docKey(type, accountId, id));
    if (!pending) return committed();
    return pending.doc && !isTombstone(pending.doc) ? pending.doc : undefined;
  }

  /**
   * Whether an id was ever used: a live document (counting pending writes) or a deleted one. Kazoo's deletes are
   * soft (the document stays, flagged), so a create naming a deleted id conflicts; ours keep a tombstone.
   */
  idTaken(type: StoredDoc['pvt_type'], accountId: string, id: string): boolean {
    const key = docKey(type, accountId, id);
    if (this.pending.newest(key)) return true;
    if (type === 'account') return this.accounts.has(id) || this.deletedAccounts.has(id);
    const data = this.perAccount.get(accountId);
    if (!data) return false;
    return data.deleted.has(id) || (type === 'user' ? data.userDocs.has(id) : data.deviceDocs.has(id));
  }

  /**
   * Stores `doc` (a new object, never a mutated stored one): stamps `_rev`/`pvt_modified` (and `pvt_created` on
   * create) from the newest version, resolves once durable, then announces the change. Readers and indexes see
   * the new version only once it is durable; until then its unique keys are reserved (see PendingWrites).
   * A refused write changes nothing and rejects with DatastoreError.
   */
  async save<T extends StoredDoc>(doc: T, options: { sync?: { reboot: boolean } } = {}): Promise<T> {
    this.checkWritable(doc);
    const previous = this.newestOf(doc.pvt_type, doc.pvt_account_id, doc.id, () => this.current(doc));
    const generation = previous ? generationOf(previous._rev) + 1 : 1;
    const now = Math.floor(Date.now() / 1000);
    doc.pvt_created = previous?.pvt_created ?? doc.pvt_created ?? now;
    doc.pvt_modified = now;
    doc._rev = newRevision(generation);
    const { before, superseded } = await this.commit(doc, doc, previous?._rev);
    if (!superseded) this.announce(doc.pvt_type, doc.pvt_account_id, doc.id, before, doc, 'local', options.sync);
    return doc;
  }

  /**
   * Removes a user or device document, soft as Kazoo does: a tombstone (id, type, dates) takes its place in the
   * same durable write, so its id is never given out again. Resolves once durable.
   */
  async remove<T extends UserDoc | DeviceDoc>(doc: T): Promise<void> {
    this.checkWritable(doc);
    const previous = this.newestOf(doc.pvt_type, doc.pvt_account_id, doc.id, () => this.current(doc));
    if (!previous) return;
    const { before, superseded } = await this.commit(doc, tombstoneOf(previous), previous._rev);
    if (before && !superseded) this.announce(doc.pvt_type, doc.pvt_account_id, doc.id, before, undefined, 'local');
  }

  /**
   * Queues `next` (a tombstone for a removal), built on revision `base`, and once durable swaps it into memory
   * and the indexes. Resolves with the committed version it replaced (`superseded`: a newer one was already in
   * memory, which stays). A write another node beat (StaleWriteError)
   * first brings that node's version into memory, so the caller's retry builds on it; a unique key another node
   * holds is told as the in-memory check tells it (ValidationFailed).
   */
  private async commit(target: StoredDoc, next: StoredDoc, base: string | undefined): Promise<{ before: StoredDoc | undefined; superseded: boolean }> {
    const key = docKey(target.pvt_type, target.pvt_account_id, target.id);
    const finish = this.pending.begin(key, next, target.id, claimKeys(next));
    let before: StoredDoc | undefined;
    let superseded = false;
    const accountRealm = target.pvt_type === 'device' ? this.accounts.get(target.pvt_account_id)?.realm : undefined;
    try {
      await this.backend.commit({ target, next, base, claims: durableClaims(next, accountRealm) }, (durable) => {
        if (durable) {
          before = this.current(target);
          // Another node's newer version, built on this one, may have arrived through the change feed first: it
          // stays (and was announced); this version is committed history, never shown.
          if (before && generationOf(before._rev) > generationOf(next._rev)) superseded = true;
          else this.place(isTombstone(next) ? undefined : next, before);
          if (isTombstone(next)) this.dataOf(target.pvt_account_id).deleted.add(target.id);
        }
        finish();
      });
    } catch (err) {
      finish();
      if (err instanceof StaleWriteError) {
        err.reload = () => this.refresh(target);
        if (this.backend.exclusive) err.underLock = (attempt) => this.underLock(target, attempt);
        // Refused here (a retry holds it): memory gets the newer version when that retry commits.
        if (!err.heldHere) await err.reload().catch(() => undefined);
        throw err;
      }
      if (err instanceof UniqueKeyTaken) throw uniqueKeyError(err.key, next);
      throw err instanceof DatastoreError ? err : new DatastoreError(err);
    }
    return { before, superseded };
  }

  /**
   * Removes an account with all its users and devices (the caller refuses accounts with children), all or
   * nothing: writes to the account are refused from now on and those already accepted land first; the backend
   * removes it in one step, and only then do memory and indexes forget it. A refused removal changes nothing.
   */
  async removeAccount(account: AccountDoc): Promise<void> {
    const id = account.id;
    if (this.removing.has(id)) throw new DatastoreError(new Error(`account ${id} is already being deleted`));
    this.removing.add(id);
    const finish = this.pending.begin(docKey('account', id, id), undefined, id, []);
    let removed: AccountDoc | undefined;
    try {
      const tombstone = tombstoneOf(this.accounts.get(id) ?? account);
      await this.backend.removeAccount(id, tombstone, (durable) => {
        if (durable) removed = this.forgetAccount(id);
      });
    } catch (err) {
      if (err instanceof StaleWriteError) {
        // Another node removed it first: learn that (409 for this request, as a lost race).
        await this.refresh(account).catch(() => undefined);
        throw err;
      }
      throw err instanceof DatastoreError ? err : new DatastoreError(err);
    } finally {
      finish();
      this.removing.delete(id);
    }
    if (removed) this.announce('account', id, id, removed, undefined, 'local');
  }

  /** Drops a removed account, its users and devices from memory and the indexes; returns what it was. */
  private forgetAccount(id: string): AccountDoc | undefined {
    this.changeCount++;
    this.deletedAccounts.add(id);
    const removed = this.accounts.get(id);
    for (const device of this.perAccount.get(id)?.deviceDocs.values() ?? []) this.removeKeys(id, device.id, deviceKeys(device));
    if (removed) this.unindexAccount(removed);
    this.perAccount.delete(id);
    return removed;
  }

  // ---------------------------------------------------------------- changes of other nodes (shared backends)

  /**
   * Runs `attempt` (a writer's read-merge-write of `target`) holding the document in the backend: its stored
   * version is brought into memory first and nobody can change it before `attempt`'s write commits.
   * Failing to take the hold (database unreachable) is a DatastoreError; what `attempt` throws passes as it is.
   */
  private async underLock<T>(target: StoredDoc, attempt: () => Promise<T>): Promise<T> {
    let holding = false;
    try {
      return await this.backend.exclusive!(target.pvt_type, target.pvt_account_id, target.id, (stored) => {
        holding = true;
        if (stored) this.applyRemote(stored);
        return attempt();
      });
    } catch (err) {
      throw holding || err instanceof DatastoreError ? err : new DatastoreError(err);
    }
  }

  /** Brings the stored version of `target` into memory (a writer lost a race to another node). */
  private async refresh(target: StoredDoc): Promise<void> {
    const stored = await this.backend.fetch?.(target.pvt_type, target.pvt_account_id, target.id);
    if (stored) this.applyRemote(stored);
  }

  /**
   * A version another node committed: placed in memory and the indexes and announced as a local write is
   * (origin 'remote'), unless memory already holds it or a newer one (our own commits, a catch-up overlap).
   */
  private applyRemote(doc: StoredDoc): void {
    const { pvt_type: type, pvt_account_id: accountId, id } = doc;
    if (type === 'account') {
      if (this.deletedAccounts.has(id)) return;
      const current = this.accounts.get(id);
      if (current && generationOf(current._rev) >= generationOf(doc._rev)) return;
      if (isTombstone(doc)) {
        const removed = this.forgetAccount(id);
        if (removed) this.announce('account', id, id, removed, undefined, 'remote');
        return;
      }
      this.place(doc, current);
      this.announce('account', id, id, current, doc, 'remote');
      return;
    }
    if (!this.accounts.has(accountId)) return;
    const data = this.dataOf(accountId);
    if (data.deleted.has(id)) return;
    const current = this.current(doc);
    if (current && generationOf(current._rev) >= generationOf(doc._rev)) return;
    if (isTombstone(doc)) {
      data.deleted.add(id);
      if (!current) return;
      this.place(undefined, current);
      this.announce(type, accountId, id, current, undefined, 'remote');
      return;
    }
    this.place(doc, current);
    this.announce(type, accountId, id, current, doc, 'remote');
  }

  /** Users and devices are written only in an account that exists and is not being deleted. */
  private checkWritable(doc: StoredDoc): void {
    const accountId = doc.pvt_account_id;
    if (this.removing.has(accountId)) throw new DatastoreError(new Error(`account ${accountId} is being deleted`));
    if (doc.pvt_type !== 'account' && !this.accounts.has(accountId)) throw new DatastoreError(new Error(`account ${accountId} does not exist`));
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
    this.changeCount++;
    if (next) deepFreeze(next);
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
      case 'device': {
        // An update keeps its id's place in the account's order: taken out and put back, it cost two splices of
        // the whole array per write.
        const update = previous !== undefined && next !== undefined && previous.pvt_account_id === next.pvt_account_id;
        if (previous) this.unindexDevice(previous as DeviceDoc, update);
        if (next) this.indexDevice(next as DeviceDoc, update ? 'kept' : 'insert');
      }
    }
  }

  private announce(
    type: StoredDoc['pvt_type'],
    accountId: string,
    id: string,
    before: StoredDoc | undefined,
    after: StoredDoc | undefined,
    origin: ChangeOrigin,
    sync?: { reboot: boolean },
  ): void {
    const snap = <T>(d: T | undefined) => (d === undefined ? undefined : structuredClone(d));
    if (type === 'device') {
      this.events.emit({ type: 'device.changed', accountId, deviceId: id, before: snap(before as DeviceDoc), after: snap(after as DeviceDoc), sync, origin });
    } else if (type === 'user') {
      this.events.emit({ type: 'user.changed', accountId, userId: id, before: snap(before as UserDoc), after: snap(after as UserDoc), origin });
    } else {
      this.events.emit({ type: 'account.changed', accountId, before: snap(before as AccountDoc), after: snap(after as AccountDoc), origin });
    }
  }
}

const docKey = (type: StoredDoc['pvt_type'], accountId: string, id: string) => `${type}|${accountId}|${id}`;

interface DeviceRefKey {
  accountId: string;
  deviceId: string;
}
