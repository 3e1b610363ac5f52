import type pg from 'pg';
import type { AccountDoc, StoredDoc } from '../../domain/types.js';
import { StaleWriteError, UniqueKeyTaken, type DocChange } from '../backend.js';
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
    const { rows } = await this.pool.query<{ doc: StoredDoc; seq: string }>(`SELECT doc, seq FROM docs ORDER BY (type <> 'account'), seq`);
    return rows.map((r) => this.row(r));
  }

  /** Documents written after change `seq`, in write order. */
  async since(seq: number): Promise<StoredRow[]> {
    const { rows } = await this.pool.query<{ doc: StoredDoc; seq: string }>('SELECT doc, seq FROM docs WHERE seq > $1 ORDER BY seq', [seq]);
    return rows.map((r) => this.row(r));
  }

  /** The stored versions of these documents (those that exist), in write order. */
  async some(refs: ReadonlyArray<{ type: string; account: string; id: string }>): Promise<StoredRow[]> {
    const { rows } = await this.pool.query<{ doc: StoredDoc; seq: string }>(
      `SELECT d.doc, d.seq FROM docs d JOIN unnest($1::text[], $2::text[], $3::text[]) AS r(type, account_id, id)
         ON d.type = r.type AND d.account_id = r.account_id AND d.id = r.id ORDER BY d.seq`,
      [refs.map((r) => r.type), refs.map((r) => r.account), refs.map((r) => r.id)],
    );
    return rows.map((r) => this.row(r));
  }

  private row(r: { doc: StoredDoc; seq: string }): StoredRow {
    return { doc: r.doc.pvt_type === 'account' ? this.codec.decode(r.doc) : r.doc, seq: Number(r.seq) };
  }

  /**
   * One change in one transaction: the document row only if its stored revision is `base` (or, for a create,
   * only if there is none), its claims replaced (a key held by another document refuses the whole write), a
   * realm change re-keys the usernames its devices hold under it, and a NOTIFY that PostgreSQL delivers at commit.
   */
  async write(change: DocChange): Promise<ChangeNotice> {
    const { target, next, base } = change;
    const key = [target.pvt_type, target.pvt_account_id, target.id] as const;
    return inTransaction(this.pool, async (client) => {
      if (target.pvt_type !== 'account') {
        // Shared lock on the account row: its removal (FOR UPDATE) waits for this write, or this for it.
        const account = await client.query<{ deleted: boolean }>(`SELECT deleted FROM docs WHERE type = 'account' AND account_id = $1 AND id = $1 FOR SHARE`, [target.pvt_account_id]);
        if (!account.rows[0] || account.rows[0].deleted) throw new Error(`account ${target.pvt_account_id} does not exist`);
      }
      const stored = JSON.stringify(next.pvt_type === 'account' ? this.codec.encode(next) : next);
      const values = [...key, next._rev, generationOf(next._rev), isTombstone(next), stored];
      const written =
        base === undefined
          ? await client.query<{ seq: string }>(
              `INSERT INTO docs (type, account_id, id, rev, generation, deleted, doc) VALUES ($1, $2, $3, $4, $5, $6, $7::json)
                 ON CONFLICT DO NOTHING RETURNING seq`,
              values,
            )
          : await client.query<{ seq: string }>(
              `UPDATE docs SET rev = $4, generation = $5, deleted = $6, doc = $7::json, seq = nextval('change_seq')
                 WHERE type = $1 AND account_id = $2 AND id = $3 AND rev = $8 RETURNING seq`,
              [...values, base],
            );
      const seq = written.rows[0]?.seq;
      if (seq === undefined) throw new StaleWriteError(key.join('|'));
      await client.query('DELETE FROM claims WHERE type = $1 AND account_id = $2 AND id = $3', [...key]);
      // Sorted: two writes claiming the same keys wait for each other instead of deadlocking.
      const claims = [...change.claims].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      if (claims.length) {
        const taken = await client.query<{ key: string }>(
          `INSERT INTO claims (key, type, account_id, id, via_account_realm, username)
             SELECT k, $2, $3, $4, v, u FROM unnest($1::text[], $5::boolean[], $6::text[]) AS c(k, v, u)
             ON CONFLICT (key) DO NOTHING RETURNING key`,
          [claims.map((c) => c.key), ...key, claims.map((c) => c.viaAccountRealm === true), claims.map((c) => (c.viaAccountRealm ? c.key.slice(c.key.lastIndexOf('|') + 1) : null))],
        );
        if (taken.rows.length < claims.length) {
          const got = new Set(taken.rows.map((r) => r.key));
          throw new UniqueKeyTaken(claims.find((c) => !got.has(c.key))!.key);
        }
      }
      if (next.pvt_type === 'account' && !isTombstone(next)) await this.rekeyRealmClaims(client, next as AccountDoc);
      const notice: ChangeNotice = { node: this.node, type: target.pvt_type, account: target.pvt_account_id, id: target.id, rev: next._rev, seq: Number(seq) };
      await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(notice)]);
      return notice;
    });
  }

  private async rekeyRealmClaims(client: pg.PoolClient, account: AccountDoc): Promise<void> {
    const prefix = `sip-realm-user|${account.realm.toLowerCase()}|`;
    try {
      await client.query(
        `UPDATE claims SET key = $2 || username WHERE account_id = $1 AND via_account_realm AND key <> $2 || username`,
        [account.id, prefix],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new UniqueKeyTaken(`realm|${account.realm.toLowerCase()}`);
      throw err;
    }
  }

  /** The account's users, devices and claims go; its row becomes `tombstone`; one NOTIFY tells the others. */
  async removeAccount(accountId: string, tombstone: StoredDoc): Promise<ChangeNotice> {
    return inTransaction(this.pool, async (client) => {
      const locked = await client.query(`SELECT 1 FROM docs WHERE type = 'account' AND account_id = $1 AND id = $1 AND NOT deleted FOR UPDATE`, [accountId]);
      if (!locked.rowCount) throw new StaleWriteError(`account|${accountId}|${accountId}`);
      await client.query('DELETE FROM claims WHERE account_id = $1', [accountId]);
      await client.query(`DELETE FROM docs WHERE account_id = $1 AND type <> 'account'`, [accountId]);
      const written = await client.query<{ seq: string }>(
        `UPDATE docs SET rev = $2, generation = $3, deleted = true, doc = $4::json, seq = nextval('change_seq')
           WHERE type = 'account' AND account_id = $1 AND id = $1 RETURNING seq`,
        [accountId, tombstone._rev, generationOf(tombstone._rev), JSON.stringify(tombstone)],
      );
      const notice: ChangeNotice = { node: this.node, type: 'account', account: accountId, id: accountId, rev: tombstone._rev, seq: Number(written.rows[0]!.seq) };
      await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(notice)]);
      return notice;
    });
  }
}
