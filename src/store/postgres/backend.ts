import { randomBytes } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import type { StoredDoc } from '../../domain/types.js';
import { StaleWriteError, type DocChange, type DurableClaim, type StoreBackend } from '../backend.js';
import type { SettleChange } from '../sharded-collection.js';
import { readKey, readOrCreateKey } from '../key-file.js';
import { SecretBox, SecretKeyMismatchError } from '../secret-box.js';
import { accountSecretsCodec, holdsSealedSecrets } from '../account-secrets.js';
import { createPool, DatabaseUnreachableError, redactedUrl, type GatedPool, type PoolSettings } from './connection.js';
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
  /** Documents held by `exclusive` (per document key), and the hold the running code is inside of. */
  private readonly holds = new Map<string, Set<RowHold>>();
  private readonly holding = new AsyncLocalStorage<RowHold>();

  private constructor(
    private readonly url: string,
    private readonly pool: GatedPool,
    readonly secrets: SecretBox,
  ) {
    const codec = accountSecretsCodec(secrets);
    this.table = new DocumentTable(pool, this.node, { encode: (doc) => codec.encode(doc), decode: (doc) => codec.decode(doc).doc });
  }

  /**
   * Connects, migrates the schema and opens the secrets key. Unreachable: DatabaseUnreachableError. `pool`: the
   * pool's size and timeouts (tests; production uses createPool's defaults).
   */
  static async open(url: string, options: { secretsKeyFile: string; pool?: PoolSettings }): Promise<PostgresBackend> {
    const pool = createPool(url, options.pool);
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
    const key = `${target.pvt_type}|${target.pvt_account_id}|${target.id}`;
    const mine = this.holding.getStore();
    if (mine?.key === key && mine.open) return this.commitHeld(mine, change, settle);
    for (const hold of this.holds.get(key) ?? []) {
      if (hold !== mine) {
        // Told synchronously: memory must not show this write as pending to the hold's writer.
        settle(false);
        return Promise.reject(new StaleWriteError(key, true));
      }
    }
    return this.inOrder(key, () => this.table.write(change), settle);
  }

  /**
   * See StoreBackend.exclusive. The hold starts now (this node's later writes of the document are refused),
   * waits for the writes queued before it, locks the row in a transaction of its own connection and ends when
   * `run`'s write of the document commits, or rolls back when `run` ends without one.
   */
  async exclusive<T>(type: StoredDoc['pvt_type'], accountId: string, id: string, run: (stored: StoredDoc | undefined) => Promise<T>): Promise<T> {
    const key = `${type}|${accountId}|${id}`;
    const hold = new RowHold(key);
    const held = this.holds.get(key) ?? new Set();
    held.add(hold);
    this.holds.set(key, held);
    const before = this.chains.get(key) ?? Promise.resolve();
    this.chains.set(key, hold.ended);
    this.running.add(hold.ended);
    void hold.ended.then(() => {
      this.running.delete(hold.ended);
      if (this.chains.get(key) === hold.ended) this.chains.delete(key);
      held.delete(hold);
      if (!held.size && this.holds.get(key) === held) this.holds.delete(key);
    });
    try {
      await before;
      // Taken through the admission gate (nothing is held yet). `run` then executes while this connection is
      // held: what it asks of the pool meanwhile (a re-read after a lost race, the cluster's queries) comes from the
      // pool's reserve instead of queueing behind operations that may wait for this very slot (see GatedPool: that
      // would deadlock).
      hold.client = await this.pool.connect();
      const stored = await this.table.lock(hold.client, { type, account: accountId, id });
      return await this.holding.run(hold, () => this.pool.holding(hold, () => run(stored)));
    } finally {
      await hold.end();
    }
  }

  /** A write inside its hold's transaction; the COMMIT ends the hold. */
  private async commitHeld(hold: RowHold, change: DocChange, settle: SettleChange): Promise<void> {
    hold.open = false;
    try {
      await this.table.writeIn(hold.client!, change);
      await hold.client!.query('COMMIT');
      hold.committed = true;
    } catch (err) {
      settle(false);
      await hold.end();
      throw err;
    }
    settle(true);
    await hold.end();
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

  databasePool(): pg.Pool {
    return this.pool;
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
  const { rows } = await pool.query<{ doc: string }>(`SELECT doc FROM docs WHERE type = 'account' AND NOT deleted`);
  if (rows.some((r) => holdsSealedSecrets(JSON.parse(r.doc) as StoredDoc))) {
    throw new Error(`secrets key file ${keyFile} is missing, but ${redactedUrl(url)} holds secrets sealed with a key: copy that key file to every node or point SECRETS_KEY_FILE at it`);
  }
  return new SecretBox(await readOrCreateKey(keyFile));
}

/** One `exclusive` hold: its connection with the transaction holding the row, until its write commits or it gives up. */
class RowHold {
  client: pg.PoolClient | undefined;
  /** Its write of the document has not run yet. */
  open = true;
  committed = false;
  private finished = false;
  private resolveEnded!: () => void;
  /** Settles once the row is free again (queued writes of the document run after it). */
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(readonly key: string) {}

  /** Its connection is taken and not yet returned (GatedPool.holding: what runs inside asks the reserve). */
  get held(): boolean {
    return this.client !== undefined && !this.finished;
  }

  /** Rolls back unless committed, returns the connection (dropped if it broke) and frees the document. */
  async end(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.open = false;
    const client = this.client;
    if (client) {
      let broken = false;
      if (!this.committed) await client.query('ROLLBACK').catch(() => (broken = true));
      client.release(broken);
    }
    this.resolveEnded();
  }
}
