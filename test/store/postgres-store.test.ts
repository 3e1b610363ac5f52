import { afterEach, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { AccountDoc, DeviceDoc, StoredDoc } from '../../src/domain/types.js';
import { DomainEvents, type DomainEvent } from '../../src/domain/events.js';
import { ValidationFailed } from '../../src/domain/validation.js';
import { newId, StaleWriteError, Store } from '../../src/store/store.js';
import { migrate, MIGRATIONS } from '../../src/store/postgres/schema.js';
import { bootstrapAccount } from '../../src/accounts/bootstrap.js';
import { PostgresBackend } from '../../src/store/postgres/backend.js';
import { retryOnStale } from '../../src/store/stale-write.js';
import { newRevision } from '../../src/store/tombstones.js';
import { createDatabase, freePort } from '../helpers/postgres.js';
import { tempDir } from '../helpers/server.js';

/**
 * The PostgreSQL store as several nodes see it: two Stores on one database, each with its own memory, as two
 * server processes would be.
 */
interface Node {
  store: Store;
  events: DomainEvents;
  seen: DomainEvent[];
}

const open: Store[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

async function node(url: string, keyFile: string): Promise<Node> {
  const events = new DomainEvents();
  const seen: DomainEvent[] = [];
  events.on((e) => seen.push(e));
  const store = await Store.open(await tempDir(), events, { databaseUrl: url, secretsKeyFile: keyFile });
  open.push(store);
  return { store, events, seen };
}

/** Two nodes on a fresh database sharing one secrets key, with a master account made on the first. */
async function cluster(): Promise<{ a: Node; b: Node; url: string; account: AccountDoc; keyFile: string }> {
  const url = await createDatabase(inject('postgresUrl'));
  const keyFile = `${await tempDir()}/secrets.key`;
  const a = await node(url, keyFile);
  const made = await bootstrapAccount(a.store, { name: 'Master', realm: 'master.test', username: 'admin', password: 'admin-pass' });
  const b = await node(url, keyFile);
  return { a, b, url, account: b.store.getAccount(made.account_id)!, keyFile };
}

function nextEvent(n: Node, match: (e: DomainEvent) => boolean): Promise<DomainEvent> {
  const found = n.seen.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const off = n.events.on((e) => {
      if (match(e)) {
        off();
        resolve(e);
      }
    });
  });
}

function device(account: AccountDoc, fields: Partial<DeviceDoc> = {}): DeviceDoc {
  return { id: newId(), name: 'Desk', pvt_type: 'device', pvt_account_id: account.id, ...fields } as DeviceDoc;
}

function childAccount(parent: AccountDoc, name: string, realm: string): AccountDoc {
  const id = newId();
  return { id, name, realm, pvt_type: 'account', pvt_account_id: id, pvt_tree: [parent.id], pvt_api_key: newId() } as unknown as AccountDoc;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL store shared by two nodes', () => {
  it('a device written on one node reaches the other through the change feed, announced once, as remote', async () => {
    const { a, b, account } = await cluster();
    const saved = await a.store.save(device(account, { mac_address: '001122334455' }));
    const arrived = await nextEvent(b, (e) => e.type === 'device.changed' && e.deviceId === saved.id);
    expect(arrived).toMatchObject({ origin: 'remote', after: { id: saved.id, _rev: saved._rev } });
    expect(b.store.getDevice(account.id, saved.id)?._rev).toBe(saved._rev);
    expect(b.store.findDeviceByMac('001122334455')?.device.id).toBe(saved.id);
    // The writer saw its own commit once, as local, and never again through the feed.
    await a.store.save({ ...saved, name: 'Desk 2' } as DeviceDoc);
    await nextEvent(b, (e) => e.type === 'device.changed' && e.after?.name === 'Desk 2');
    expect(a.seen.filter((e) => e.type === 'device.changed').map((e) => e.origin)).toEqual(['local', 'local']);
    expect(b.seen.filter((e) => e.type === 'device.changed').map((e) => e.origin)).toEqual(['remote', 'remote']);
  });

  it('the same MAC created on both nodes at once: one commits, the other gets the unique error of the in-memory check', async () => {
    const { a, b, account } = await cluster();
    const results = await Promise.allSettled([a.store.save(device(account, { mac_address: 'aabbccddeeff' })), b.store.save(device(account, { mac_address: 'aabbccddeeff' }))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(ValidationFailed);
    expect((refused.reason as ValidationFailed).errors).toEqual({ mac_address: { unique: { message: 'MAC address already in use', cause: 'aabbccddeeff' } } });
  });

  it('a SIP username under a realm is unique across accounts: a device with its own realm vs a device under that realm as its account realm', async () => {
    const { a, b, account } = await cluster();
    const other = await a.store.save(childAccount(account, 'Other', 'other.test'));
    await nextEvent(b, (e) => e.type === 'account.changed' && e.accountId === other.id);
    const results = await Promise.allSettled([
      a.store.save(device(other, { sip: { username: 'Alice', password: 'p' } })),
      b.store.save(device(account, { sip: { username: 'alice', password: 'p', realm: 'OTHER.test' } })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(Object.keys((refused.reason as ValidationFailed).errors)).toEqual(['sip.username']);
  });

  it('a realm change moves the usernames its devices hold under it: the new realm\'s own-realm devices then collide', async () => {
    const { a, b, account } = await cluster();
    const other = await a.store.save(childAccount(account, 'Other', 'old.test'));
    await a.store.save(device(other, { sip: { username: 'bob', password: 'p' } }));
    await b.store.save({ ...other, realm: 'new.test' } as AccountDoc).catch(async (err: unknown) => {
      // B may not have learnt the account yet: then it retries on the stored version, as the API does.
      if (!(err instanceof StaleWriteError)) throw err;
      await b.store.save({ ...b.store.latest.getAccount(other.id)!, realm: 'new.test' } as AccountDoc);
    });
    // Under the old realm the name is free now; under the new one it is taken.
    await b.store.save(device(account, { sip: { username: 'bob', password: 'p', realm: 'old.test' } }));
    const refused = await a.store.save(device(account, { sip: { username: 'BOB', password: 'p', realm: 'new.test' } })).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ValidationFailed);
    expect(Object.keys((refused as ValidationFailed).errors)).toEqual(['sip.username']);
  });

  it('a write built on a revision another node replaced commits nothing and brings the newer version in', async () => {
    const { a, b, account, url: dbUrl } = await cluster();
    const saved = await a.store.save(device(account));
    await nextEvent(b, (e) => e.type === 'device.changed' && e.deviceId === saved.id);
    const onA = { ...a.store.latest.getDevice(account.id, saved.id)!, name: 'from A' } as DeviceDoc;
    const onB = { ...b.store.latest.getDevice(account.id, saved.id)!, name: 'from B' } as DeviceDoc;
    const results = await Promise.allSettled([a.store.save(onA), b.store.save(onB)]);
    const won = results.findIndex((r) => r.status === 'fulfilled');
    expect(won).toBeGreaterThanOrEqual(0);
    const lost = results[1 - won] as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(StaleWriteError);
    const winner = (results[won] as PromiseFulfilledResult<DeviceDoc>).value;
    const [row] = await query<{ rev: string }>(dbUrl, 'SELECT rev FROM docs WHERE id = $1', [saved.id]);
    expect(row?.rev).toBe(winner._rev);
    // The loser already holds the winner's version: a retry merges into it.
    const loser = won === 0 ? b : a;
    expect(loser.store.latest.getDevice(account.id, saved.id)?._rev).toBe(winner._rev);
  });

  it('a retry after a lost race cannot lose again: a writer that commits just before each of this node\'s writes is kept out while the retry holds the row', async () => {
    const { a, account, url: dbUrl, keyFile } = await cluster();
    const saved = await a.store.save(device(account));
    // The other writer: before every commit of this node it commits a newer version of the device with a key of
    // its own, unless the row is locked (NOWAIT: then it gives up that turn instead of waiting).
    const other = new pg.Client({ connectionString: dbUrl });
    await other.connect();
    let wins = 0;
    const overtake = async () => {
      await other.query('BEGIN');
      try {
        const row = (await other.query<{ doc: string; generation: number }>(`SELECT doc, generation FROM docs WHERE type = 'device' AND id = $1 FOR UPDATE NOWAIT`, [saved.id])).rows[0]!;
        const doc = { ...JSON.parse(row.doc), [`other_${wins + 1}`]: true, _rev: newRevision(row.generation + 1) };
        await other.query(`UPDATE docs SET rev = $2, generation = $3, doc = $4, seq = nextval('change_seq') WHERE type = 'device' AND id = $1`, [saved.id, doc._rev, row.generation + 1, JSON.stringify(doc)]);
        await other.query('COMMIT');
        wins++;
      } catch (err) {
        await other.query('ROLLBACK');
        if ((err as { code?: string }).code !== '55P03') throw err;
      }
    };
    const backend = await PostgresBackend.open(dbUrl, { secretsKeyFile: keyFile });
    const commit = backend.commit.bind(backend);
    backend.commit = async (change, settle) => {
      if (change.target.id === saved.id) await overtake();
      return commit(change, settle);
    };
    const c = await Store.openOn(await tempDir(), new DomainEvents(), backend);
    open.push(c);
    try {
      const written = await retryOnStale(() => c.save({ ...c.latest.getDevice(account.id, saved.id)!, name: 'from C' } as DeviceDoc));
      expect(wins).toBeGreaterThanOrEqual(1);
      const [row] = await query<{ rev: string; doc: string }>(dbUrl, 'SELECT rev, doc FROM docs WHERE id = $1', [saved.id]);
      expect(row?.rev).toBe(written._rev);
      const stored = JSON.parse(row!.doc);
      expect(stored.name).toBe('from C');
      for (let i = 1; i <= wins; i++) expect(stored[`other_${i}`], `other_${i}`).toBe(true);
    } finally {
      await other.end();
    }
  });

  it('removes an account with its users and devices in one transaction; the other node forgets them', async () => {
    const { a, b, account, url: dbUrl } = await cluster();
    const child = await a.store.save(childAccount(account, 'Child', 'child.test'));
    const phone = await a.store.save(device(child, { mac_address: '0a0b0c0d0e0f' }));
    await nextEvent(b, (e) => e.type === 'device.changed' && e.deviceId === phone.id);
    await a.store.removeAccount(child);
    await nextEvent(b, (e) => e.type === 'account.changed' && e.accountId === child.id && !e.after);
    expect(b.store.getAccount(child.id)).toBeUndefined();
    expect(b.store.findDeviceByMac('0a0b0c0d0e0f')).toBeUndefined();
    expect(b.store.idTaken('account', child.id, child.id)).toBe(true);
    const rows = await query<{ type: string; deleted: boolean }>(dbUrl, 'SELECT type, deleted FROM docs WHERE account_id = $1', [child.id]);
    expect(rows).toEqual([{ type: 'account', deleted: true }]);
    expect(await query(dbUrl, 'SELECT key FROM claims WHERE account_id = $1', [child.id])).toEqual([]);
    // The MAC is free again, on either node.
    await b.store.save(device(account, { mac_address: '0a0b0c0d0e0f' }));
  });

  it('documents holding what JSON allows but PostgreSQL json refuses (NUL, lone surrogates) are stored and read back as written', async () => {
    const { a, b, account } = await cluster();
    const odd = 'nul\u0000 lone\ud800 pair\ud83d\ude00 end';
    const saved = await a.store.save(device(account, { name: odd, [`key\u0000`]: 'v' } as Partial<DeviceDoc>));
    await nextEvent(b, (e) => e.type === 'device.changed' && e.deviceId === saved.id);
    expect(b.store.getDevice(account.id, saved.id)?.name).toBe(odd);
    expect(JSON.stringify(b.store.getDevice(account.id, saved.id))).toBe(JSON.stringify(a.store.getDevice(account.id, saved.id)));
  });

  it('account secrets are stored sealed, and a node with the same key file opens them', async () => {
    const { account, url: dbUrl } = await cluster();
    const [row] = await query<{ doc: string }>(dbUrl, `SELECT doc FROM docs WHERE type = 'account' AND id = $1`, [account.id]);
    expect(row?.doc).not.toContain(account.pvt_api_key);
    expect(String((JSON.parse(row!.doc) as StoredDoc).pvt_api_key)).toMatch(/^enc:v1:/);
  });
});

describe('PostgreSQL schema and connection', () => {
  it('migrations apply once, also when two nodes start at the same moment', async () => {
    const dbUrl = await createDatabase(inject('postgresUrl'));
    const clients = [new pg.Client({ connectionString: dbUrl }), new pg.Client({ connectionString: dbUrl })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      // A database made by the first release (version 1 only) is brought up to date, each step once.
      expect(await migrate(clients[0]!, MIGRATIONS.slice(0, 1))).toEqual([1]);
      const applied = await Promise.all(clients.map((c) => migrate(c)));
      const later = MIGRATIONS.slice(1).map((m) => m.version);
      expect(later.length).toBeGreaterThan(0);
      expect(applied.flat()).toEqual(later);
      expect(await migrate(clients[0]!)).toEqual([]);
      const versions = await clients[0]!.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(versions.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('PostgreSQL unreachable at open: an error naming the URL without its password', async () => {
    const port = await freePort();
    const dbUrl = `postgres://someone:VerySecret@127.0.0.1:${port}/nothing`;
    const failure = await Store.open(await tempDir(), new DomainEvents(), { databaseUrl: dbUrl }).catch((err: Error) => err);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain(`postgres://someone:***@127.0.0.1:${port}/nothing`);
    expect((failure as Error).message).not.toContain('VerySecret');
  });
});

