import type pg from 'pg';

/**
 * The tables the nodes of a cluster share besides the documents: who is alive (heartbeats), where each phone is
 * registered and through which node, each device's last config fetch, the API token key and revoked tokens,
 * the template overrides and the phones' uploads. Created at startup, under an advisory
 * lock so that two nodes starting at once do not race on CREATE. Every shared row carries `txid`, the id of the
 * transaction that last wrote it: readers follow changes by (txid, key), only below the oldest transaction
 * still running, so a change committed late is never skipped (see change-reader.ts).
 */
const LOCK = 0x636c7573; // 'clus'

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS cluster_nodes (
     node_id text PRIMARY KEY,
     heartbeat_at timestamptz NOT NULL,
     started_at timestamptz NOT NULL DEFAULT now(),
     sip text
   )`,
  `CREATE TABLE IF NOT EXISTS cluster_registrations (
     account_id text NOT NULL,
     device_id text NOT NULL,
     username text NOT NULL,
     realm text NOT NULL,
     contact text NOT NULL,
     source_address text NOT NULL,
     source_port integer NOT NULL,
     expires_at bigint NOT NULL,
     registered_at bigint NOT NULL,
     user_agent text,
     node_id text NOT NULL,
     txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
     PRIMARY KEY (account_id, device_id)
   )`,
  `CREATE INDEX IF NOT EXISTS cluster_registrations_txid ON cluster_registrations (txid, account_id, device_id)`,
  `CREATE INDEX IF NOT EXISTS cluster_registrations_expiry ON cluster_registrations (expires_at)`,
  `CREATE TABLE IF NOT EXISTS cluster_last_fetch (
     device_id text PRIMARY KEY,
     account_id text NOT NULL,
     time bigint NOT NULL,
     address text NOT NULL,
     user_agent text NOT NULL,
     file text NOT NULL,
     vendor text NOT NULL,
     model text,
     node_id text NOT NULL,
     txid xid8 NOT NULL DEFAULT pg_current_xact_id()
   )`,
  `CREATE INDEX IF NOT EXISTS cluster_last_fetch_txid ON cluster_last_fetch (txid, device_id)`,
  // Secrets of the whole cluster (the API token signing key), sealed with SECRETS_KEY_FILE.
  `CREATE TABLE IF NOT EXISTS cluster_secrets (
     name text PRIMARY KEY,
     value text NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS cluster_revoked_tokens (
     jti text PRIMARY KEY,
     exp bigint NOT NULL,
     txid xid8 NOT NULL DEFAULT pg_current_xact_id()
   )`,
  `CREATE INDEX IF NOT EXISTS cluster_revoked_tokens_txid ON cluster_revoked_tokens (txid, jti)`,
  `CREATE INDEX IF NOT EXISTS cluster_revoked_tokens_exp ON cluster_revoked_tokens (exp)`,
  // Template overrides of the API (device_id '' = the account layer); source NULL = removed (a row the others follow).
  `CREATE TABLE IF NOT EXISTS cluster_templates (
     account_id text NOT NULL,
     device_id text NOT NULL,
     vendor text NOT NULL,
     name text NOT NULL,
     source text,
     node_id text NOT NULL,
     txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
     PRIMARY KEY (account_id, device_id, vendor, name)
   )`,
  `CREATE INDEX IF NOT EXISTS cluster_templates_txid ON cluster_templates (txid, account_id, device_id, vendor, name)`,
  // Files phones uploaded; body NULL = removed.
  `CREATE TABLE IF NOT EXISTS cluster_uploads (
     device_id text NOT NULL,
     name text NOT NULL,
     body bytea,
     modified bigint NOT NULL,
     node_id text NOT NULL,
     txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
     PRIMARY KEY (device_id, name)
   )`,
  `CREATE INDEX IF NOT EXISTS cluster_uploads_txid ON cluster_uploads (txid, device_id, name)`,
];

export async function ensureClusterSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK]);
    for (const sql of STATEMENTS) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
