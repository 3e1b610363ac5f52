import type pg from 'pg';

/**
 * The schema, as numbered migrations applied in order at startup and recorded in schema_migrations. Add new
 * ones at the end (never edit an applied one). Two nodes starting at once take turns (an advisory lock).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'documents, unique claims, change sequence',
    sql: `
      -- Every write takes the next value: the change feed's catch-up reads what changed after a point.
      CREATE SEQUENCE change_seq;
      -- One row per document (accounts, users, devices), tombstones included. doc is json, not jsonb: its text,
      -- key order included, is what the lowdb store keeps, so every node serves byte-identical answers.
      CREATE TABLE docs (
        type        text    NOT NULL CHECK (type IN ('account', 'user', 'device')),
        account_id  text    NOT NULL,
        id          text    NOT NULL,
        rev         text    NOT NULL,
        generation  integer NOT NULL,
        deleted     boolean NOT NULL DEFAULT false,
        seq         bigint  NOT NULL DEFAULT nextval('change_seq'),
        doc         json    NOT NULL,
        PRIMARY KEY (type, account_id, id)
      );
      CREATE INDEX docs_seq ON docs (seq);
      CREATE INDEX docs_account ON docs (account_id);
      -- The unique keys documents hold (MAC, SIP username per account and per realm, sip.ip, realm, user name),
      -- written in the same transaction as the document: the primary key is the cluster-wide uniqueness check.
      CREATE TABLE claims (
        key                text    PRIMARY KEY,
        type               text    NOT NULL,
        account_id         text    NOT NULL,
        id                 text    NOT NULL,
        -- A device username held under its account's realm: re-keyed when that realm changes.
        via_account_realm  boolean NOT NULL DEFAULT false,
        username           text
      );
      CREATE INDEX claims_owner ON claims (type, account_id, id);
      CREATE INDEX claims_account ON claims (account_id);
    `,
  },
];

/** Any 64-bit number, the same on every node: the advisory lock serialising migrations. */
const MIGRATION_LOCK = 7_446_021_913;

/** Applies the migrations not applied yet, each in its own transaction, holding the advisory lock. */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`schema migration ${migration.version} (${migration.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      done.push(migration.version);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
}
