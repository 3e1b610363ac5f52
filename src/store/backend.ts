import type pg from 'pg';
import type { StoredDoc } from '../domain/types.js';
import type { SecretBox } from './secret-box.js';
import type { SettleChange } from './sharded-collection.js';

/**
 * Where the Store's documents are made durable. The Store keeps every document and index in memory (readers
 * stay synchronous); a backend only loads everything at open and commits changes. Two exist: the sharded lowdb
 * files of DATA_DIR (./lowdb-backend.ts, the embedded default) and PostgreSQL (./postgres/backend.ts, DATABASE_URL).
 */
export interface StoreBackend {
  /** Seals/opens account secrets; its `index` keys api_auth's lookup. */
  readonly secrets: SecretBox;
  /**
   * Every stored document, tombstones included: accounts first, then the users and devices of live accounts.
   * Account secrets come back opened (plain).
   */
  load(): Promise<StoredDoc[]>;
  /**
   * Makes one change durable: `next` replaces the stored version of `target` (a tombstone for a removal).
   * `settle` is told synchronously, before the promise settles, whether it became durable.
   * Rejects with StaleWriteError when the stored revision is not `base` (another node wrote first; only a
   * shared backend can see this), with UniqueKeyTaken when a claim is held by another document.
   */
  commit(change: DocChange, settle: SettleChange): Promise<void>;
  /**
   * Removes an account with all its users and devices in one all-or-nothing step, leaving `tombstone` in the
   * account's place. `settle` as for commit.
   */
  removeAccount(accountId: string, tombstone: StoredDoc, settle: SettleChange): Promise<void>;
  /**
   * Runs `run` while this node alone may write the document (shared backends only): its stored version is read
   * under a row lock held until the first write of that document made inside `run` commits, so that write,
   * built on the version given to `run`, cannot lose a race. This node's other writes of it meanwhile are
   * refused as stale (StaleWriteError, `heldHere`), to be redone after it.
   */
  exclusive?<T>(type: StoredDoc['pvt_type'], accountId: string, id: string, run: (stored: StoredDoc | undefined) => Promise<T>): Promise<T>;
  /** The stored version of one document, for a writer that lost a race (shared backends only). */
  fetch?(type: StoredDoc['pvt_type'], accountId: string, id: string): Promise<StoredDoc | undefined>;
  /**
   * Starts telling the store, in commit order, the documents other nodes committed (shared backends only).
   * `apply` gets the stored version (a tombstone for a removal). Called once, after load.
   */
  follow?(apply: (doc: StoredDoc) => void): void;
  /** The connection pool of a backend on PostgreSQL, for the node's other shared state (one pool per node). */
  databasePool?(): pg.Pool;
  /** Stops background work (change feed, connections) after letting queued writes finish. */
  close(): Promise<void>;
}

export interface DocChange {
  /** The document's identity (type, account, id). */
  target: StoredDoc;
  /** The version to store; a tombstone for a removal. */
  next: StoredDoc;
  /** `_rev` of the version `next` was built on; undefined when it creates the document. */
  base: string | undefined;
  /** Unique keys `next` holds across the whole database (see durableClaims in ./claims.ts). */
  claims: readonly DurableClaim[];
}

export interface DurableClaim {
  key: string;
  /** A device username claimed under its account's realm: re-keyed when that realm changes. */
  viaAccountRealm?: boolean;
}

/** The stored revision is not the one the write was built on: re-read and redo, or answer 409. */
export class StaleWriteError extends Error {
  /** Set by the Store: brings the document's stored version into memory (a retry calls it just before it rebuilds). */
  reload?: () => Promise<void>;
  /**
   * Set by the Store when the backend can hold a document (StoreBackend.exclusive): runs `attempt` on the stored
   * version while no other writer can change it, so a retry through it cannot be stale again.
   */
  underLock?: <T>(attempt: () => Promise<T>) => Promise<T>;
  constructor(
    readonly docKey: string,
    /** Refused without asking the database: a retry on this node holds the document (see StoreBackend.exclusive). */
    readonly heldHere = false,
  ) {
    super(`document ${docKey} was changed by another writer`);
    this.name = 'StaleWriteError';
  }
}

/** A unique key (a MAC, a SIP username…) is already held by another document in the database. */
export class UniqueKeyTaken extends Error {
  constructor(readonly key: string) {
    super(`unique key ${key} is already in use`);
    this.name = 'UniqueKeyTaken';
  }
}
