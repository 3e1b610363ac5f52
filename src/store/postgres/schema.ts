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
      -- One row per document (accounts, users, devices), tombstones included. doc is the document's JSON text
      -- (JSON.stringify, key order included), not json/jsonb: those refuse what JSON itself allows and clients
      -- send (escaped NUL characters, lone surrogates), and every node must serve byte-identical answers. realm: an account's
      -- realm, lower-cased (device writes read it under the account row's lock).
      CREATE TABLE docs (
        type        text    NOT NULL CHECK (type IN ('account', 'user', 'device')),
        account_id  text    NOT NULL,
        id          text    NOT NULL,
        rev         text    NOT NULL,
        generation  integer NOT NULL,
        deleted     boolean NOT NULL DEFAULT false,
        seq         bigint  NOT NULL DEFAULT nextval('change_seq'),
        realm       text,
        doc         text    NOT NULL,
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
  {
    version: 2,
    name: 'one-call document write',
    sql: `
      -- A document change in one statement: the account row shared (a device or user write), the row written only
      -- on the revision it was built on (or, for a create, when there is none), its unique claims made exactly
      -- the given ones (a key another document holds refuses the whole write), an account's realm change re-keying
      -- its devices' usernames, and the NOTIFY delivered at commit. Called alone it is its own transaction; inside a
      -- held one (a PATCH under the row's lock) it joins it. Refusals are errors with their own codes: KP001 stale
      -- revision, KP002 claim held by another document (DETAIL: the key), KP003 no such account.
      CREATE FUNCTION write_doc(p_type text, p_account text, p_id text, p_rev text, p_generation integer, p_deleted boolean,
                                p_doc text, p_realm text, p_base text, p_keys text[], p_vias boolean[], p_usernames text[],
                                p_channel text, p_node text)
      RETURNS bigint LANGUAGE plpgsql AS $fn$
      DECLARE
        v_account_deleted boolean;
        v_account_realm text;
        v_seq bigint;
        v_keys text[];
        v_missing text;
      BEGIN
        IF p_type <> 'account' THEN
          SELECT deleted, realm INTO v_account_deleted, v_account_realm
            FROM docs WHERE type = 'account' AND account_id = p_account AND id = p_account FOR SHARE;
          IF NOT FOUND OR v_account_deleted THEN
            RAISE EXCEPTION USING ERRCODE = 'KP003', MESSAGE = 'account ' || p_account || ' does not exist';
          END IF;
        END IF;
        IF p_base IS NULL THEN
          INSERT INTO docs (type, account_id, id, rev, generation, deleted, doc, realm)
            VALUES (p_type, p_account, p_id, p_rev, p_generation, p_deleted, p_doc, p_realm)
            ON CONFLICT DO NOTHING RETURNING seq INTO v_seq;
        ELSE
          UPDATE docs SET rev = p_rev, generation = p_generation, deleted = p_deleted, doc = p_doc, realm = p_realm,
                          seq = nextval('change_seq')
            WHERE type = p_type AND account_id = p_account AND id = p_id AND rev = p_base RETURNING seq INTO v_seq;
        END IF;
        IF v_seq IS NULL THEN
          RAISE EXCEPTION USING ERRCODE = 'KP001', MESSAGE = 'stale write ' || p_type || '|' || p_account || '|' || p_id;
        END IF;
        -- A username held under the account's realm is keyed by the realm the database holds, not the writer's copy.
        v_keys := ARRAY(SELECT CASE WHEN c.v THEN 'sip-realm-user|' || v_account_realm || '|' || c.u ELSE c.k END
                          FROM unnest(p_keys, p_vias, p_usernames) WITH ORDINALITY AS c(k, v, u, n) ORDER BY c.n);
        DELETE FROM claims h WHERE h.type = p_type AND h.account_id = p_account AND h.id = p_id
          AND NOT EXISTS (SELECT 1 FROM unnest(v_keys, p_vias) AS w(key, via) WHERE w.key = h.key AND w.via = h.via_account_realm);
        -- In key order: two writes claiming the same keys wait for each other instead of deadlocking.
        INSERT INTO claims (key, type, account_id, id, via_account_realm, username)
          SELECT w.key, p_type, p_account, p_id, w.via, CASE WHEN w.via THEN w.u END
            FROM unnest(v_keys, p_vias, p_usernames) AS w(key, via, u)
           WHERE NOT EXISTS (SELECT 1 FROM claims h WHERE h.key = w.key AND h.type = p_type AND h.account_id = p_account AND h.id = p_id)
           ORDER BY w.key
          ON CONFLICT (key) DO NOTHING;
        SELECT w.key INTO v_missing FROM unnest(v_keys) AS w(key)
         WHERE NOT EXISTS (SELECT 1 FROM claims h WHERE h.key = w.key AND h.type = p_type AND h.account_id = p_account AND h.id = p_id)
         ORDER BY w.key LIMIT 1;
        IF v_missing IS NOT NULL THEN
          RAISE EXCEPTION USING ERRCODE = 'KP002', MESSAGE = 'unique key taken', DETAIL = v_missing;
        END IF;
        IF p_type = 'account' AND NOT p_deleted THEN
          UPDATE claims SET key = 'sip-realm-user|' || p_realm || '|' || username
           WHERE account_id = p_account AND via_account_realm AND key <> 'sip-realm-user|' || p_realm || '|' || username;
        END IF;
        PERFORM pg_notify(p_channel, json_build_object('node', p_node, 'type', p_type, 'account', p_account, 'id', p_id, 'rev', p_rev, 'seq', v_seq)::text);
        RETURN v_seq;
      END
      $fn$;
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
