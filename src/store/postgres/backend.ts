import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { StoredDoc } from '../../domain/types.js';
import type { DocChange, DurableClaim, StoreBackend } from '../backend.js';
import type { SettleChange } from '../sharded-collection.js';
import { readKey, readOrCreateKey } from '../key-file.js';
import { SecretBox, SecretKeyMismatchError } from '../secret-box.js';
import { accountSecretsCodec, holdsSealedSecrets } from '../account-secrets.js';
import { createPool, DatabaseUnreachableError, redactedUrl } from './connection.js';
import { migrate } from './schema.js';
import { DocumentTable } from './documents.js';
import { ChangeFeed } from './change-feed.js';

/**
 * The shared backend (DATABASE_URL): documents in PostgreSQL, which several nodes use at once. The database
 * decides what must hold across nodes (a write commits only on the revision it was built on; unique keys are
 * rows of one table), and each node learns the others' commits through LISTEN/NOTIFY (ChangeFeed).
 * Account secrets are stored sealed with SECRETS_KEY_FILE exactly as in the lowdb files, so every node needs
 * the same key file and a database dump holds no usable api key or phone password.
 */
export class PostgresBackend implements StoreBackend {
  /** This process, in NOTIFY payloads (its own notices are skipped). */
  readonly node = randomBytes(8).toString('hex');
  private readonly table: DocumentTable;
  /** Writes of one document run in order: each is built on the one before (see PendingWrites). */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly running = new Set<Promise<unknown>>();
  private feed: ChangeFeed | undefined;
  private highestLoaded = 0;

  private constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    readonly secrets: SecretBox,
  ) {
    const codec = accountSecretsCodec(secrets);
    this.table = new DocumentTable(pool, this.node, { encode: (doc) => codec.encode(doc), decode: (doc) => codec.decode(doc).doc });
  }

  /** Connects, migrates the schema and opens the secrets key. Unreachable: DatabaseUnreachableError. */
  static async open(url: string, options: { secretsKeyFile: string }): Promise<PostgresBackend> {
    const pool = createPool(url);
    try {
      const client = await pool.connect().catch((err: unknown) => {
        throw new DatabaseUnreachableError(url, err);
      });
      try {
        await migrate(client);
      } finally {
        client.release();
      }
      return new PostgresBackend(url, pool, await secretBox(pool, url, options.secretsKeyFile));
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  async load(): Promise<StoredDoc[]> {
    let rows;
    try {
      rows = await this.table.all();
    } catch (err) {
      if (err instanceof SecretKeyMismatchError) {
        throw new Error(`account secrets in ${redactedUrl(this.url)} cannot be decrypted with the secrets key file (${err.message}): every node needs the SECRETS_KEY_FILE this data was written with`, { cause: err });
      }
      throw new DatabaseUnreachableError(this.url, err);
    }
    for (const row of rows) this.highestLoaded = Math.max(this.highestLoaded, row.seq);
    return rows.map((r) => r.doc);
  }

  commit(change: DocChange, settle: SettleChange): Promise<void> {
    const { target } = change;
    return this.inOrder(`${target.pvt_type}|${target.pvt_account_id}|${target.id}`, () => this.table.write(change), settle);
  }

  removeAccount(accountId: string, tombstone: StoredDoc, settle: SettleChange): Promise<void> {
    return this.inOrder(`account|${accountId}|${accountId}`, () => this.table.removeAccount(accountId, tombstone), settle);
  }

  async fetch(type: StoredDoc['pvt_type'], accountId: string, id: string): Promise<StoredDoc | undefined> {
    const [row] = await this.table.some([{ type, account: accountId, id }]);
    return row?.doc;
  }

  /** Fills an empty database with documents of another store (see DocumentTable.importInto). */
  importDocuments(docs: ReadonlyArray<{ doc: StoredDoc; claims: readonly DurableClaim[] }>): Promise<void> {
    return this.table.importInto(docs);
  }

  follow(apply: (doc: StoredDoc) => void): void {
    this.feed = new ChangeFeed({ url: this.url, node: this.node, table: this.table, from: this.highestLoaded, apply });
    this.feed.start();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
    await this.feed?.stop();
    await this.pool.end().catch(() => undefined);
  }

  /**
   * Runs `write` after the writes of the same document queued before it, then tells `settle` synchronously
   * (before the caller's promise settles) whether it committed.
   */
  private inOrder(key: string, write: () => Promise<unknown>, settle: SettleChange): Promise<void> {
    const before = this.chains.get(key) ?? Promise.resolve();
    const done = before.then(write, write).then(
      () => settle(true),
      (err: unknown) => {
        settle(false);
        throw err;
      },
    );
    const tracked = done.catch(() => undefined);
    this.chains.set(key, tracked);
    this.running.add(tracked);
    void tracked.then(() => {
      this.running.delete(tracked);
      if (this.chains.get(key) === tracked) this.chains.delete(key);
    });
    return done;
  }
}

/** The secrets key; created at first start, but never when the database holds secrets sealed with a key now missing. */
async function secretBox(pool: pg.Pool, url: string, keyFile: string): Promise<SecretBox> {
  const key = await readKey(keyFile);
  if (key) return new SecretBox(key);
  const { rows } = await pool.query<{ doc: StoredDoc }>(`SELECT doc FROM docs WHERE type = 'account' AND NOT deleted`);
  if (rows.some((r) => holdsSealedSecrets(r.doc))) {
    throw new Error(`secrets key file ${keyFile} is missing, but ${redactedUrl(url)} holds secrets sealed with a key: copy that key file to every node or point SECRETS_KEY_FILE at it`);
  }
  return new SecretBox(await readOrCreateKey(keyFile));
}
