import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { DomainEvent } from '../../src/domain/events.js';
import { createDatabase, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { spawnTs } from '../helpers/process.js';

/**
 * PostgreSQL lost while two nodes run, then back: a PostgreSQL of this file's own (the run's shared one must
 * not be killed), stopped by PID and started again on the same data directory and port.
 */
let postgres: PostgresServer;
let url: string;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  postgres = await startPostgres({ crashSafe: true });
  url = await createDatabase(postgres.url);
  const keyFile = `${await tempDir()}/secrets.key`;
  a = await startTestServer({ env: { DATABASE_URL: url, SECRETS_KEY_FILE: keyFile } });
  b = await startTestServer({ env: { DATABASE_URL: url, SECRETS_KEY_FILE: keyFile } });
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await postgres?.stop();
});

function remoteChange(t: TestServer, match: (e: DomainEvent & { type: 'device.changed' }) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const off = t.server.events.on((e) => {
      if (e.type === 'device.changed' && e.origin === 'remote' && match(e)) {
        off();
        resolve();
      }
    });
  });
}

describe('PostgreSQL lost while running', () => {
  it('writes answer 503 datastore_fault and commit nothing; reads go on; once it is back both nodes write and learn again', async () => {
    const auth = { 'X-Auth-Token': a.master.token };
    const accountId = a.master.accountId;
    const created = await a.http().put(`/v2/accounts/${accountId}/devices`).set(auth).send({ data: { name: 'Before', mac_address: '00:11:22:33:44:55' } });
    expect(created.status, created.text).toBe(201);
    const id = created.body.data.id as string;
    await expect.poll(() => b.server.store.getDevice(accountId, id)?.name).toBe('Before');

    await postgres.kill();
    const refused = await a.http().patch(`/v2/accounts/${accountId}/devices/${id}`).set(auth).send({ data: { name: 'During' } });
    expect(refused.status, refused.text).toBe(503);
    expect(refused.body).toMatchObject({ status: 'error', error: '503', message: 'datastore_fault' });
    const createRefused = await b.http().put(`/v2/accounts/${accountId}/devices`).set({ 'X-Auth-Token': b.master.token }).send({ data: { name: 'Never', mac_address: '00:11:22:33:44:66' } });
    expect(createRefused.status).toBe(503);
    // Memory follows committed writes only: both nodes still serve the last committed version.
    expect((await a.http().get(`/v2/accounts/${accountId}/devices/${id}`).set(auth)).body.data.name).toBe('Before');
    expect(b.server.store.findDeviceByMac('001122334466')).toBeUndefined();

    await postgres.restart();
    // B's change feed reconnects by itself (with backoff) and catches up; A's pool opens new connections.
    const learnt = remoteChange(b, (e) => e.deviceId === id && e.after?.name === 'After');
    const patched = await a.http().patch(`/v2/accounts/${accountId}/devices/${id}`).set(auth).send({ data: { name: 'After' } });
    expect(patched.status, patched.text).toBe(200);
    await learnt;
    expect(b.server.store.getDevice(accountId, id)?.name).toBe('After');
    // And the other way round, once B's feed is back: A learns B's write.
    const fromB = remoteChange(a, (e) => e.after?.name === 'From B');
    const made = await b.http().put(`/v2/accounts/${accountId}/devices`).set({ 'X-Auth-Token': b.master.token }).send({ data: { name: 'From B', mac_address: '00:11:22:33:44:66' } });
    expect(made.status, made.text).toBe(201);
    await fromB;

    // Nothing refused during the outage was committed.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const names = (await client.query<{ name: string }>(`SELECT doc->>'name' AS name FROM docs WHERE type = 'device' ORDER BY name`)).rows.map((r) => r.name);
      expect(names).toEqual(['After', 'From B']);
    } finally {
      await client.end();
    }
  });

  it('a change committed while a node was cut off reaches it through the catch-up query after it reconnects', async () => {
    const accountId = a.master.accountId;
    const before = b.server.store.listDevices(accountId).length;
    // Cut B's change feed (not its pool): terminate its LISTEN connection from the server side.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
      // Committed while no node listens: its NOTIFY reaches nobody.
      const made = await a.http().put(`/v2/accounts/${accountId}/devices`).set({ 'X-Auth-Token': a.master.token }).send({ data: { name: 'Unheard', mac_address: '00:11:22:33:44:77' } });
      expect(made.status, made.text).toBe(201);
      await expect.poll(() => b.server.store.findDeviceByMac('001122334477')?.device.name, { timeout: 20_000 }).toBe('Unheard');
      expect(b.server.store.listDevices(accountId).length).toBe(before + 1);
    } finally {
      await admin.end();
    }
  });
});

describe('PostgreSQL unreachable at startup', () => {
  it('the server exits non-zero with a message naming the URL without its password', async () => {
    const dead = new URL(postgres.url);
    dead.port = String(Number(postgres.port) === 1 ? 2 : 1); // nothing listens on port 1
    dead.pathname = '/prov';
    const proc = spawnTs('src/main.ts', [], { DATA_DIR: await tempDir(), PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', DATABASE_URL: dead.toString() });
    expect(await proc.exited).not.toBe(0);
    const shown = new URL(dead.toString());
    shown.password = '***';
    expect(proc.stderr()).toContain(`cannot use PostgreSQL at ${shown.toString()}`);
    expect(proc.stderr()).not.toContain(decodeURIComponent(dead.password));
  });
});
