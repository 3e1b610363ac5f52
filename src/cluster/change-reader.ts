import type pg from 'pg';

/**
 * Follows the changes of one shared table: rows are read in (txid, key) order from a cursor, and only those
 * written by transactions older than the oldest one still running (pg_snapshot_xmin). A transaction that took a
 * lower txid but commits after a higher one is therefore read when it commits, never stepped over. Pages are
 * bounded; `more` says another page is waiting.
 */
export interface Cursor {
  txid: string;
  key: string[];
}

export const START: Cursor = { txid: '0', key: [] };

export interface ChangePage<R> {
  rows: R[];
  next: Cursor;
  more: boolean;
}

export async function readChanges<R extends Record<string, unknown>>(
  pool: pg.Pool,
  table: string,
  keys: readonly string[],
  cursor: Cursor,
  limit: number,
): Promise<ChangePage<R>> {
  const keyList = keys.map((k) => `t.${k}`).join(', ');
  const from = cursor.key.length === keys.length ? cursor.key : keys.map(() => '');
  const params = keys.map((_, i) => `$${i + 2}`).join(', ');
  const sql = `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
    SELECT t.*, t.txid::text AS txid_text, h.horizon::text AS horizon_text FROM ${table} t, h
    WHERE (t.txid, ${keyList}) > ($1::xid8, ${params}) AND t.txid < h.horizon
    ORDER BY t.txid, ${keyList} LIMIT ${Math.max(1, Math.floor(limit))}`;
  const result = await pool.query<R & { txid_text: string; horizon_text: string }>(sql, [cursor.txid, ...from]);
  const rows = result.rows;
  const last = rows[rows.length - 1];
  if (rows.length >= limit && last) {
    return { rows, next: { txid: last.txid_text, key: keys.map((k) => String(last[k])) }, more: true };
  }
  // Everything below the horizon has been read: the next read starts there. With no rows, ask for the horizon.
  const horizon = last?.horizon_text ?? (await pool.query<{ h: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS h')).rows[0]!.h;
  // A horizon below the cursor cannot happen for committed rows; keep the larger to stay monotonic.
  const next = BigInt(horizon) > BigInt(cursor.txid) ? { txid: horizon, key: [] } : cursor;
  return { rows, next, more: false };
}
