import path from 'node:path';
import { mapBounded } from './bounded-map.js';
import type { StoredDoc } from '../domain/types.js';
import type { DocChange, StoreBackend } from './backend.js';
import { ShardedCollection, type SettleChange } from './sharded-collection.js';
import { DurableJsonFile, type WriteFile } from './json-file-adapter.js';
import { AccountFiles } from './account-files.js';
import { readKey, readOrCreateKey } from './key-file.js';
import { SecretBox, SecretKeyMismatchError } from './secret-box.js';
import { accountSecretsCodec, holdsSealedSecrets } from './account-secrets.js';
import { isTombstone } from './tombstones.js';

/**
 * Devices per account are spread over this many files (see ShardedCollection). Part of the on-disk layout.
 * Sized for a carrier account: at 100k devices a write re-serialises ~25 documents (~20 KB), not 100k.
 * Files only exist for shards that hold documents.
 */
export const DEVICE_SHARDS = 4096;
const USER_SHARDS = 16;
/** Accounts whose files are read at once at start-up (see load). */
const ACCOUNTS_IN_FLIGHT = 4;

interface AccountCollections {
  users: ShardedCollection;
  devices: ShardedCollection;
}

/**
 * The embedded backend: lowdb files under DATA_DIR (one small file for accounts; per account, sharded files
 * for users and devices). The caller (Store) serialises what must be: it never writes to an account being removed.
 */
export class LowdbBackend implements StoreBackend {
  private readonly accountCollection: ShardedCollection;
  private readonly perAccount = new Map<string, AccountCollections>();
  private readonly accountFiles: AccountFiles;

  private constructor(
    private readonly dataDir: string,
    readonly secrets: SecretBox,
    private readonly writeFile?: WriteFile,
  ) {
    this.accountCollection = new ShardedCollection(accountsDir(dataDir), 1, writeFile, accountSecretsCodec(secrets));
    this.accountFiles = new AccountFiles(path.join(dataDir, 'accounts'));
  }

  static async open(dataDir: string, options: { secretsKeyFile: string; writeFile?: WriteFile }): Promise<LowdbBackend> {
    return new LowdbBackend(dataDir, await secretBox(dataDir, options.secretsKeyFile), options.writeFile);
  }

  private collections(accountId: string): AccountCollections {
    let data = this.perAccount.get(accountId);
    if (!data) {
      const dir = this.accountFiles.dir(accountId);
      data = {
        users: new ShardedCollection(path.join(dir, 'users'), USER_SHARDS, this.writeFile),
        devices: new ShardedCollection(path.join(dir, 'devices'), DEVICE_SHARDS, this.writeFile),
      };
      this.perAccount.set(accountId, data);
    }
    return data;
  }

  async load(): Promise<StoredDoc[]> {
    let accounts: StoredDoc[];
    try {
      accounts = await this.accountCollection.load();
    } catch (err) {
      if (err instanceof SecretKeyMismatchError) {
        throw new Error(`account secrets in ${accountsDir(this.dataDir)} cannot be decrypted with the secrets key file (${err.message}): is SECRETS_KEY_FILE the key this data was written with?`, { cause: err });
      }
      throw err;
    }
    // Secrets an earlier version stored in the clear are sealed now. If the disk refuses, the next write of the
    // accounts file seals them (every write encodes the whole file).
    await this.accountCollection.rewriteOutdated().catch(() => undefined);
    const live = new Set(accounts.filter((doc) => !isTombstone(doc)).map((doc) => doc.id));
    await this.accountFiles.settleRemovals((id) => live.has(id));
    // A few accounts at a time (each collection reads its files synchronously, in turns of the loop, so one file
    // is open at a time); documents come out in the same order.
    const perAccount = await mapBounded([...live], ACCOUNTS_IN_FLIGHT, async (id) => {
      const data = this.collections(id);
      const [users, devices] = await Promise.all([data.users.load(), data.devices.load()]);
      return [...users, ...devices];
    });
    return [...accounts, ...perAccount.flat()];
  }

  commit(change: DocChange, settle: SettleChange): Promise<void> {
    const { target, next } = change;
    return this.collectionOf(target).commit(target.id, next, settle);
  }

  /**
   * Mark-then-commit (see AccountFiles): the account's files are moved aside, one durable write replaces the
   * account document with its tombstone, then the moved files are deleted. A refused write puts the files back;
   * a crash is settled at the next open.
   */
  async removeAccount(accountId: string, tombstone: StoredDoc, settle: SettleChange): Promise<void> {
    const data = this.perAccount.get(accountId);
    await data?.users.settled();
    await data?.devices.settled();
    await this.accountFiles.markForRemoval(accountId);
    try {
      await this.accountCollection.commit(accountId, tombstone, (durable) => {
        if (durable) this.perAccount.delete(accountId);
        settle(durable);
      });
    } catch (err) {
      // If this fails too, the next open puts the files back: the account document is still there.
      await this.accountFiles.unmark(accountId).catch(() => undefined);
      throw err;
    }
    // If this fails, the next open finishes it: the account document is gone.
    await this.accountFiles.dropMarked(accountId).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.accountCollection.settled();
    for (const data of this.perAccount.values()) {
      await data.users.settled();
      await data.devices.settled();
    }
  }

  private collectionOf(doc: StoredDoc): ShardedCollection {
    if (doc.pvt_type === 'account') return this.accountCollection;
    const data = this.collections(doc.pvt_account_id);
    return doc.pvt_type === 'user' ? data.users : data.devices;
  }
}

export const accountsDir = (dataDir: string) => path.join(dataDir, 'system', 'accounts');

/** The secrets key; created at first start, but never when existing data was sealed with a key now missing. */
async function secretBox(dataDir: string, keyFile: string): Promise<SecretBox> {
  const key = await readKey(keyFile);
  if (key) return new SecretBox(key);
  const accountsFile = path.join(accountsDir(dataDir), 'docs.json');
  const stored = await new DurableJsonFile<{ docs?: Record<string, StoredDoc> }>(accountsFile).read();
  if (Object.values(stored?.docs ?? {}).some(holdsSealedSecrets)) {
    throw new Error(`secrets key file ${keyFile} is missing, but ${accountsFile} holds secrets sealed with a key: restore that key file or point SECRETS_KEY_FILE at it`);
  }
  return new SecretBox(await readOrCreateKey(keyFile));
}
