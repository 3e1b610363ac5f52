import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { AccountDoc, DeviceDoc } from '../../src/domain/types.js';
import { DomainEvents } from '../../src/domain/events.js';
import { bootstrapAccount } from '../../src/accounts/bootstrap.js';
import { DatastoreError, newId, Store } from '../../src/store/store.js';
import { AdmissionGate, AdmissionQueueFull } from '../../src/store/postgres/admission.js';
import { createPool, inTransaction, type GatedPool, type PoolSettings } from '../../src/store/postgres/connection.js';
import { PostgresBackend } from '../../src/store/postgres/backend.js';
import { createDatabase } from '../helpers/postgres.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

/**
 * Issue 13: a burst of writes far larger than the pool, on a healthy PostgreSQL, is answered in full. Without the
 * admission gate (src/store/postgres/admission.ts) the operations waiting in pg's own queue for a client fail after
 * connectionTimeoutMillis and the API answers them 503. Here the pool is made tiny (2 connections, a 200 ms connect
 * timeout) and every write holds its connection for a few milliseconds in PostgreSQL (pg_sleep in a trigger), so
 * a burst of 300 takes many times the connect timeout to get through: with pg's queue alone most of it would fail.
 */
const SMALL: PoolSettings = { max: 2, connectionTimeoutMillis: 200 };
const BURST = 300;

/** A controllable `open` for the gate: each call is one pending connect, settled by the test. */
function fakeConnects() {
  const pending: Array<{ resolve: (v: number) => void; reject: (e: Error) => void }> = [];
  let opened = 0;
  return {
    pending,
    open: () =>
      new Promise<number>((resolve, reject) => {
        const n = ++opened;
        pending.push({ resolve: () => resolve(n), reject });
      }),
  };
}

/** Lets every queued promise reaction run (no timer, no wall time). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('admission gate', () => {
  it('admits at most `limit` at once and the others in arrival order, each as a slot is released', async () => {
    const gate = new AdmissionGate({ limit: 2 });
    const connects = fakeConnects();
    const order: number[] = [];
    const leases = Array.from({ length: 5 }, (_, i) =>
      gate.admit(connects.open).then((lease) => {
        order.push(i);
        return lease;
      }),
    );
    await settle();
    expect(connects.pending).toHaveLength(2);
    expect(gate.admitted).toBe(2);
    expect(gate.waiting).toBe(3);
    for (const c of connects.pending.splice(0)) c.resolve(0);
    const first = await Promise.all(leases.slice(0, 2));
    // Nobody behind them gets in while both slots are held.
    await settle();
    expect(connects.pending).toHaveLength(0);
    first[1]!.release();
    first[1]!.release(); // twice: still one slot
    await settle();
    expect(connects.pending).toHaveLength(1);
    expect(gate.waiting).toBe(2);
    first[0]!.release();
    await settle();
    expect(connects.pending).toHaveLength(2);
    for (const c of connects.pending.splice(0)) c.resolve(0);
    (await leases[2]!).release();
    await settle();
    connects.pending.splice(0)[0]!.resolve(0);
    await Promise.all(leases);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(gate.waiting).toBe(0);
  });

  it('a full queue refuses at once with AdmissionQueueFull (the Store answers it as a datastore fault, 503)', async () => {
    const gate = new AdmissionGate({ limit: 1, queueLimit: 2 });
    const connects = fakeConnects();
    const admitted = [gate.admit(connects.open), gate.admit(connects.open), gate.admit(connects.open)];
    const refused = await gate.admit(connects.open).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AdmissionQueueFull);
    expect((refused as AdmissionQueueFull).waiting).toBe(2);
    // The refused one took no place: the queue moves on as before.
    await settle();
    connects.pending.shift()!.resolve(0);
    (await admitted[0]!).release();
    await settle();
    connects.pending.shift()!.resolve(0);
    (await admitted[1]!).release();
    await settle();
    connects.pending.shift()!.resolve(0);
    (await admitted[2]!).release();
    expect([gate.admitted, gate.waiting]).toEqual([0, 0]);
  });

  it('a connect failing while no admitted operation holds a connection fails the whole queue at once; while one does, the queue waits on', async () => {
    const gate = new AdmissionGate({ limit: 2 });
    const connects = fakeConnects();
    const holder = gate.admit(connects.open);
    const blip = gate.admit(connects.open);
    const behind = gate.admit(connects.open);
    await settle();
    connects.pending.shift()!.resolve(0);
    const held = await holder;
    // One connect fails while another operation holds a working connection: only that one fails, the next is let in.
    connects.pending.shift()!.reject(new Error('connect ECONNRESET'));
    await expect(blip).rejects.toThrow('ECONNRESET');
    await settle();
    expect(connects.pending).toHaveLength(1);
    connects.pending.shift()!.resolve(0);
    (await behind).release();
    held.release();

    // The database is gone: the first connect fails, nothing holds a connection, and what waits behind it fails
    // with the same error at once instead of trying one after the other.
    const first = [gate.admit(connects.open), gate.admit(connects.open)];
    const queued = [gate.admit(connects.open), gate.admit(connects.open), gate.admit(connects.open)];
    await settle();
    expect([connects.pending.length, gate.waiting]).toEqual([2, 3]);
    const down = new Error('connect ECONNREFUSED');
    connects.pending.shift()!.reject(down);
    const outcomes = await Promise.allSettled(queued);
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason)).toEqual([down, down, down]);
    expect(gate.waiting).toBe(0);
    await expect(first[0]).rejects.toBe(down);
    // The other admitted one goes on trying; an operation arriving now is admitted and tries for itself.
    const later = gate.admit(connects.open);
    await settle();
    expect(connects.pending).toHaveLength(2);
    for (const c of connects.pending.splice(0)) c.resolve(0);
    (await first[1]!).release();
    (await later).release();
    expect([gate.admitted, gate.waiting]).toEqual([0, 0]);
  });

  it('a queue failed by an unreachable database: every operation of a burst fails (none hangs), a real pool on a closed port', async () => {
    const dead = new URL(inject('postgresUrl'));
    dead.port = '1'; // nothing listens there: refused at once
    const pool = createPool(dead.toString(), SMALL);
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => (i % 2 ? pool.query('SELECT 1') : inTransaction(pool, (c) => c.query('SELECT 1')))));
      expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
      expect(pool.gate.waiting).toBe(0);
      expect(pool.gate.admitted).toBe(0);
    } finally {
      await pool.end();
    }
  });
});

/** Every later insert or update of a document holds its transaction's connection `seconds` longer. */
async function slowWrites(url: string, seconds: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE OR REPLACE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${seconds}); RETURN NEW; END $$`);
    await client.query('CREATE TRIGGER slow_write BEFORE INSERT OR UPDATE ON docs FOR EACH ROW EXECUTE FUNCTION slow_write()');
  } finally {
    await client.end();
  }
}

async function count(url: string, sql: string, values: unknown[] = []): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql, values)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

function device(account: AccountDoc, name: string): DeviceDoc {
  return { id: newId(), name, pvt_type: 'device', pvt_account_id: account.id } as DeviceDoc;
}

describe('a burst far larger than the pool, on a healthy PostgreSQL', () => {
  const pools: GatedPool[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const pool of pools.splice(0)) await pool.end();
  });

  it(`the pool itself: ${BURST} transactions and queries at once, each holding its connection 10 ms, on 2 connections with a 200 ms connect timeout, all succeed`, async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const pool = createPool(url, SMALL);
    pools.push(pool);
    const work = Array.from({ length: BURST }, (_, i) =>
      i % 2 ? inTransaction(pool, (c) => c.query('SELECT pg_sleep(0.01)')) : pool.query('SELECT pg_sleep(0.01)'),
    );
    // Every one of them asked synchronously: all but those admitted wait in the gate, none in pg's queue.
    const inGate = pool.gate.admitted + pool.gate.waiting;
    const inPgQueue = pool.waitingCount;
    const outcomes = await Promise.allSettled(work);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    expect([inGate, inPgQueue]).toEqual([BURST, 0]);
    expect(pool.totalCount).toBeLessThanOrEqual(2);
    expect([pool.gate.admitted, pool.gate.waiting]).toEqual([0, 0]);
  });

  it(`the Store: ${BURST} device writes at once, each holding its connection 5 ms, on a pool of 2, all commit`, async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await Store.open(await tempDir(), new DomainEvents(), { databaseUrl: url, secretsKeyFile: `${await tempDir()}/secrets.key`, databasePool: SMALL });
    stores.push(store);
    const made = await bootstrapAccount(store, { name: 'Master', realm: 'master.test', username: 'admin', password: 'admin-pass' });
    const account = store.getAccount(made.account_id)!;
    await slowWrites(url, 0.005);
    const outcomes = await Promise.allSettled(Array.from({ length: BURST }, (_, i) => store.save(device(account, `Desk ${i}`))));
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    expect(store.listDevices(account.id)).toHaveLength(BURST);
    expect(await count(url, `SELECT count(*) AS n FROM docs WHERE type = 'device'`)).toBe(BURST);
  });

  it('the Store with a queue of 5: the writes beyond it are refused at once as DatastoreError (503) and commit nothing; those it took commit', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await Store.open(await tempDir(), new DomainEvents(), { databaseUrl: url, secretsKeyFile: `${await tempDir()}/secrets.key`, databasePool: { ...SMALL, queueLimit: 5 } });
    stores.push(store);
    const made = await bootstrapAccount(store, { name: 'Master', realm: 'master.test', username: 'admin', password: 'admin-pass' });
    const account = store.getAccount(made.account_id)!;
    await slowWrites(url, 0.005);
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.save(device(account, `Desk ${i}`))));
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
    for (const err of refused) {
      expect(err).toBeInstanceOf(DatastoreError);
      expect((err as DatastoreError).cause).toBeInstanceOf(AdmissionQueueFull);
    }
    // All 50 asked in one turn: one admitted (a pool of 2 keeps one for nested use) and 5 queued, at most; the
    // change feed's catch-up read may hold one of those places.
    const committed = outcomes.length - refused.length;
    expect(committed).toBeGreaterThanOrEqual(5);
    expect(committed).toBeLessThanOrEqual(6);
    expect(store.listDevices(account.id)).toHaveLength(committed);
    expect(await count(url, `SELECT count(*) AS n FROM docs WHERE type = 'device'`)).toBe(committed);
  });
});

describe('nested acquisition', () => {
  it('code holding a row (StoreBackend.exclusive) that reads from the pool takes the reserve, not a place in the queue behind its own slot', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    // A pool of 2: one connection admitted through the gate, one kept in reserve.
    const backend = await PostgresBackend.open(url, { secretsKeyFile: `${await tempDir()}/secrets.key`, pool: SMALL });
    try {
      const pool = backend.databasePool() as GatedPool;
      expect(pool.gate.limit).toBe(1);
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      let burstFired!: () => void;
      const fired = new Promise<void>((resolve) => (burstFired = resolve));
      const holding = backend.exclusive('device', 'acct', 'held', async () => {
        entered();
        await fired;
        // A read made while holding the row must not join the queue (it would wait for the slot it holds itself).
        return backend.fetch('device', 'acct', 'another');
      });
      await inside;
      // The hold has the gate's only slot: a burst from elsewhere waits behind it.
      const queuedBehind = Array.from({ length: 20 }, (_, i) => backend.fetch('device', 'acct', `other-${i}`));
      expect(pool.gate.waiting).toBe(20);
      burstFired();
      const read = await holding;
      expect(read).toBeUndefined();
      expect(await Promise.all(queuedBehind)).toEqual(Array(20).fill(undefined));
      expect([pool.gate.admitted, pool.gate.waiting]).toEqual([0, 0]);
    } finally {
      await backend.close();
    }
  });
});

describe('the HTTP API on a pool of 2 connections', () => {
  let a: TestServer;
  let b: TestServer;
  let url: string;
  beforeAll(async () => {
    url = await createDatabase(inject('postgresUrl'));
    const env = { DATABASE_URL: url, SECRETS_KEY_FILE: `${await tempDir()}/secrets.key` };
    a = await startTestServer({ env, databasePool: SMALL });
    b = await startTestServer({ env, databasePool: SMALL });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it(`${BURST} concurrent PUTs, then ${BURST} concurrent PATCHes of those devices, each write holding its connection 5 ms: every one answered 201 / 200`, async () => {
    const auth = { 'X-Auth-Token': a.master.token };
    const devices = `/v2/accounts/${a.master.accountId}/devices`;
    await slowWrites(url, 0.005);
    const made = await Promise.all(Array.from({ length: BURST }, (_, i) => a.http().put(devices).set(auth).send({ data: { name: `Phone ${i}` } })));
    expect(made.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    const patched = await Promise.all(made.map((r, i) => a.http().patch(`${devices}/${r.body.data.id as string}`).set(auth).send({ data: { name: `Renamed ${i}` } })));
    expect(patched.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    expect(await count(url, `SELECT count(*) AS n FROM docs WHERE type = 'device' AND doc::json->>'name' LIKE 'Renamed %'`)).toBe(BURST);
  });

  it('40 concurrent PATCHes of one device spread over two nodes (retries holding the row, StoreBackend.exclusive) all answer 200 and all keys survive', async () => {
    const made = await a.http().put(`/v2/accounts/${a.master.accountId}/devices`).set({ 'X-Auth-Token': a.master.token }).send({ data: { name: 'Shared' } });
    expect(made.status).toBe(201);
    const id = made.body.data.id as string;
    await expect.poll(() => b.server.store.getDevice(a.master.accountId, id), { timeout: 15_000 }).toBeDefined();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const t = i % 2 ? b : a;
        return t.http().patch(`/v2/accounts/${a.master.accountId}/devices/${id}`).set({ 'X-Auth-Token': t.master.token }).send({ data: { [`key_${i}`]: i } });
      }),
    );
    expect(answers.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    for (let i = 0; i < 40; i++) expect(await count(url, `SELECT count(*) AS n FROM docs WHERE id = $1 AND (doc::json->>$2)::int = $3`, [id, `key_${i}`, i]), `key_${i}`).toBe(1);
  });
});
