import type pg from 'pg';
import type { AccountDoc, StoredDoc } from '../../domain/types.js';
import { StaleWriteError, UniqueKeyTaken, type DocChange, type DurableClaim } from '../backend.js';
import { generationOf, isTombstone } from '../tombstones.js';
import { inTransaction } from './connection.js';

/** The channel every node LISTENs on; payloads are ChangeNotice JSON. */
export const CHANGES_CHANNEL = 'provisioner_changes';

/** What a committed write tells the other nodes (NOTIFY payload, a few hundred bytes). */
export interface ChangeNotice {
  /** The writing node (a node skips its own notices). */
  node: string;
  type: StoredDoc['pvt_type'];
  account: string;
  id: string;
  rev: string;
  /** change_seq value of the write: a reconnecting node catches up from the highest it saw. */
  seq: number;
}

export interface StoredRow {
  doc: StoredDoc;
  seq: number;
}

/** How documents look in the database when that differs from memory (sealed account secrets). */
export interface RowCodec {
  encode(doc: StoredDoc): StoredDoc;
  decode(doc: StoredDoc): StoredDoc;
}

/** The SQL of the document table: one conditional write per change, one transaction per account removal. */
export class DocumentTable {
  constructor(
    private readonly pool: pg.Pool,
    private readonly node: string,
    private readonly codec: RowCodec,
  ) {}

  /** Every document, accounts first (their users and devices follow in write order). */
  async all(): Promise<StoredRow[]> {
    const { rows } = await this.pool.query<{ doc: string; seq: string }>(`SELECT doc, seq FROM docs ORDER BY (type <> 'account'), seq`);
    return rows.map((r) => this.row(r));
  }

  /** Documents written after change `seq`, in write order. */
  async since(seq: number): Promise<StoredRow[]> {
    const { rows } = await this.pool.query<{ doc: string; seq: string }>('SELECT doc, seq FROM docs WHERE seq > $1 ORDER BY seq', [seq]);
    return rows.map((r) => this.row(r));
  }

  /** The stored versions of these documents (those that exist), in write order. */
  async some(refs: ReadonlyArray<{ type: string; account: string; id: string }>): Promise<StoredRow[]> {
    const { rows } = await this.pool.query<{ doc: string; seq: string }>(
      `SELECT d.doc, d.seq FROM docs d JOIN unnest($1::text[], $2::text[], $3::text[]) AS r(type, account_id, id)
         ON d.type = r.type AND d.account_id = r.account_id AND d.id = r.id ORDER BY d.seq`,
      [refs.map((r) => r.type), refs.map((r) => r.account), refs.map((r) => r.id)],
    );
    return rows.map((r) => this.row(r));
  }

  private row(r: { doc: string; seq: string }): StoredRow {
    const doc = JSON.parse(r.doc) as StoredDoc;
    return { doc: doc.pvt_type === 'account' ? this.codec.decode(doc) : doc, seq: Number(r.seq) };
  }

  /**
   * One change in one transaction: the document row only if its stored revision is `base` (or, for a create,
   * only if there is none), its claims replaced (a key held by another document refuses the whole write), a
   * realm change re-keys the usernames its devices hold under it, and a NOTIFY that PostgreSQL delivers at commit.
   * All of it is one call of the database's write_doc (schema.ts): one round trip, its own transaction.
   */
  write(change: DocChange): Promise<ChangeNotice> {
    return this.writeIn(this.pool, change);
  }

  /**
   * Begins a transaction that holds the row of one document (FOR UPDATE; its account's row FOR SHARE first, the
   * order every write takes them in, so this cannot deadlock with them) and returns its stored version: until the
   * transaction ends no other writer can change it, so a write built on this version inside it cannot be stale.
   */
  async lock(client: pg.PoolClient, ref: { type: StoredDoc['pvt_type']; account: string; id: string }): Promise<StoredDoc | undefined> {
    await client.query('BEGIN');
    if (ref.type !== 'account') {
      await client.query(`SELECT 1 FROM docs WHERE type = 'account' AND account_id = $1 AND id = $1 FOR SHARE`, [ref.account]);
    }
    const { rows } = await client.query<{ doc: string; seq: string }>('SELECT doc, seq FROM docs WHERE type = $1 AND account_id = $2 AND id = $3 FOR UPDATE', [ref.type, ref.account, ref.id]);
    return rows[0] ? this.row(rows[0]).doc : undefined;
  }

  /** `write` on a connection whose transaction the caller began and ends (a held row), or alone on the pool. */
  async writeIn(client: pg.Pool | pg.PoolClient, change: DocChange): Promise<ChangeNotice> {
    const { target, next, base } = change;
    const key = [target.pvt_type, target.pvt_account_id, target.id] as const;
    const stored = JSON.stringify(next.pvt_type === 'account' ? this.codec.encode(next) : next);
    const realm = realmOf(next);
    const { claims } = change;
    let seq: string | undefined;
    try {
      const { rows } = await client.query<{ seq: string }>(
        'SELECT write_doc($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11::boolean[], $12::text[], $13, $14) AS seq',
        [
          ...key, next._rev, generationOf(next._rev), isTombstone(next), stored, realm, base ?? null,
          claims.map((c) => c.key), claims.map((c) => c.viaAccountRealm === true), claims.map((c) => (c.viaAccountRealm ? usernameOf(c.key) : null)),
          CHANGES_CHANNEL, this.node,
        ],
      );
      seq = rows[0]?.seq;
    } catch (err) {
      const { code, detail } = err as { code?: string; detail?: string };
      if (code === 'KP001') throw new StaleWriteError(key.join('|'));
      if (code === 'KP002') throw new UniqueKeyTaken(detail ?? '');
      if (code === 'KP003') throw new Error(`account ${target.pvt_account_id} does not exist`, { cause: err });
      // An account's realm change re-keying its devices' usernames onto ones the new realm already holds.
      if (code === '23505' && realm !== null) throw new UniqueKeyTaken(`realm|${realm}`);
      throw err;
    }
    if (seq === undefined) throw new StaleWriteError(key.join('|'));
    return { node: this.node, type: target.pvt_type, account: target.pvt_account_id, id: target.id, rev: next._rev, seq: Number(seq) };
  }

  /** The account's users, devices and claims go; its row becomes `tombstone`; one NOTIFY tells the others. */
  async removeAccount(accountId: string, tombstone: StoredDoc): Promise<ChangeNotice> {
    return inTransaction(this.pool, async (client) => {
      const locked = await client.query(`SELECT 1 FROM docs WHERE type = 'account' AND account_id = $1 AND id = $1 AND NOT deleted FOR UPDATE`, [accountId]);
      if (!locked.rowCount) throw new StaleWriteError(`account|${accountId}|${accountId}`);
      await client.query('DELETE FROM claims WHERE account_id = $1', [accountId]);
      await client.query(`DELETE FROM docs WHERE account_id = $1 AND type <> 'account'`, [accountId]);
      const written = await client.query<{ seq: string }>(
        `UPDATE docs SET rev = $2, generation = $3, deleted = true, doc = $4, realm = NULL, seq = nextval('change_seq')
           WHERE type = 'account' AND account_id = $1 AND id = $1 RETURNING seq`,
        [accountId, tombstone._rev, generationOf(tombstone._rev), JSON.stringify(tombstone)],
      );
      const notice: ChangeNotice = { node: this.node, type: 'account', account: accountId, id: accountId, rev: tombstone._rev, seq: Number(written.rows[0]!.seq) };
      await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(notice)]);
      return notice;
    });
  }

  /**
   * Copies documents into an empty table in one transaction (the upgrade from DATA_DIR): refused, changing
   * nothing, when the table already holds documents. No NOTIFY: no node runs on a database being filled.
   */
  async importInto(docs: ReadonlyArray<{ doc: StoredDoc; claims: readonly DurableClaim[] }>): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      // Two copies started at once: the second waits here, then finds the table full.
      await client.query('LOCK TABLE docs IN EXCLUSIVE MODE');
      const held = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM docs')).rows[0]!.n);
      if (held) throw new TargetNotEmptyError(held);
      for (let at = 0; at < docs.length; at += 1000) {
        const batch = docs.slice(at, at + 1000);
        await client.query(
          `INSERT INTO docs (type, account_id, id, rev, generation, deleted, doc, realm)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::boolean[], $7::text[], $8::text[])`,
          [
            batch.map((d) => d.doc.pvt_type),
            batch.map((d) => d.doc.pvt_account_id),
            batch.map((d) => d.doc.id),
            batch.map((d) => d.doc._rev),
            batch.map((d) => generationOf(d.doc._rev)),
            batch.map((d) => isTombstone(d.doc)),
            batch.map((d) => JSON.stringify(d.doc.pvt_type === 'account' ? this.codec.encode(d.doc) : d.doc)),
            batch.map((d) => realmOf(d.doc)),
          ],
        );
        const claims = batch.flatMap((d) => d.claims.map((c) => ({ ...c, doc: d.doc })));
        try {
          await client.query(
            `INSERT INTO claims (key, type, account_id, id, via_account_realm, username)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[])`,
            [
              claims.map((c) => c.key),
              claims.map((c) => c.doc.pvt_type),
              claims.map((c) => c.doc.pvt_account_id),
              claims.map((c) => c.doc.id),
              claims.map((c) => c.viaAccountRealm === true),
              claims.map((c) => (c.viaAccountRealm ? usernameOf(c.key) : null)),
            ],
          );
        } catch (err) {
          if ((err as { code?: string }).code === '23505') throw new Error(`the data holds a unique key twice (${(err as { detail?: string }).detail ?? 'claims'}): fix it in DATA_DIR first`, { cause: err });
          throw err;
        }
      }
    });
  }
}

/** The realm column: a live account's realm, lower-cased. */
const realmOf = (doc: StoredDoc): string | null => (doc.pvt_type === 'account' && !isTombstone(doc) ? (doc as AccountDoc).realm.toLowerCase() : null);

/** The username of a `sip-realm-user|<realm>|<username>` claim (a realm holds no `|`). */
const usernameOf = (claimKey: string) => claimKey.split('|').slice(2).join('|');

/** migrate-to-postgres copies into an empty database only. */
export class TargetNotEmptyError extends Error {
  constructor(readonly documents: number) {
    super(`the target database already holds ${documents} documents: migrate-to-postgres copies into an empty database only (nothing was copied)`);
    this.name = 'TargetNotEmptyError';
  }
}
