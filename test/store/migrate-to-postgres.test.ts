import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createDatabase } from '../helpers/postgres.js';
import { createChildAccount, startTestServer, tempDir, tokenFor } from '../helpers/server.js';
import { spawnTs } from '../helpers/process.js';

/** `npm run cli -- migrate-to-postgres`: an embedded DATA_DIR copied into an empty PostgreSQL database. */
describe('migrate-to-postgres', () => {
  it('copies accounts, users, devices and tombstones with their secrets and unique keys, tells the counts, and refuses a second copy', async () => {
    const dataDir = await tempDir();
    const lowdb = await startTestServer({ dataDir, env: { DATABASE_URL: '' } });
    expect(lowdb.config.databaseUrl).toBeUndefined();
    const master = lowdb.master;
    const auth = { 'X-Auth-Token': master.token };
    const child = await createChildAccount(lowdb, master.token, master.accountId, 'Child', 'child.test');
    const childToken = await tokenFor(lowdb, master.token, child.id);
    const childKey = (await lowdb.http().get(`/v2/accounts/${child.id}/api_key`).set(auth)).body.data.api_key as string;
    await lowdb.http().patch(`/v2/accounts/${child.id}`).set(auth).send({ data: { provisioning: { http_auth: { username: 'phones', password: 'Prov-Secret-77' } } } }).expect(200);
    await lowdb.http().put(`/v2/accounts/${child.id}/users`).set({ 'X-Auth-Token': childToken }).send({ data: { first_name: 'A', last_name: 'B', username: 'alice' } }).expect(201);
    const keep = await lowdb.http().put(`/v2/accounts/${child.id}/devices`).set({ 'X-Auth-Token': childToken }).send({ data: { name: 'Keep', mac_address: '00:11:22:33:44:55', sip: { username: 'Keep1', password: 'pw-keep-1' } } });
    expect(keep.status, keep.text).toBe(201);
    const gone = await lowdb.http().put(`/v2/accounts/${child.id}/devices`).set({ 'X-Auth-Token': childToken }).send({ data: { name: 'Gone' } }).expect(201);
    await lowdb.http().delete(`/v2/accounts/${child.id}/devices/${gone.body.data.id}`).set({ 'X-Auth-Token': childToken }).expect(200);
    await lowdb.close();

    const url = await createDatabase(inject('postgresUrl'));
    const run = spawnTs('src/cli.ts', ['migrate-to-postgres'], { DATA_DIR: dataDir, DATABASE_URL: url });
    expect(await run.exited, run.stderr()).toBe(0);
    const told = JSON.parse(run.stdout()) as { copied: unknown; to: string };
    expect(told.copied).toEqual({ accounts: 2, users: 2, devices: 1, tombstones: { accounts: 0, users: 0, devices: 1 } });
    expect(told.to).not.toContain(new URL(url).password);

    // A node on the database (its own DATA_DIR, the same secrets key) serves what was copied.
    const keyFile = path.join(dataDir, 'system', 'secrets.key');
    const node = await startTestServer({ env: { DATABASE_URL: url, SECRETS_KEY_FILE: keyFile } });
    try {
      const login = await node.http().put('/v2/api_auth').send({ data: { api_key: childKey } });
      expect(login.status, login.text).toBe(201);
      const token = { 'X-Auth-Token': login.body.auth_token as string };
      const device = await node.http().get(`/v2/accounts/${child.id}/devices/${keep.body.data.id}`).set(token);
      expect(device.body.data).toMatchObject({ name: 'Keep', mac_address: '001122334455' });
      expect(node.server.store.getAccount(child.id)?.provisioning?.http_auth?.password).toBe('Prov-Secret-77');
      // The deleted id stays taken; the unique keys are enforced by the database too.
      const reuse = await node.http().put(`/v2/accounts/${child.id}/devices`).set(token).send({ data: { id: gone.body.data.id, name: 'Again' } });
      expect(reuse.status).toBe(409);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const keys = (await client.query<{ key: string }>('SELECT key FROM claims ORDER BY key')).rows.map((r) => r.key);
        expect(keys).toEqual(expect.arrayContaining(['mac|001122334455', `sip-user|${child.id}|keep1`, 'sip-realm-user|child.test|keep1', `username|${child.id}|alice`, 'realm|child.test']));
        const sealed = (await client.query<{ doc: string }>(`SELECT doc::text FROM docs WHERE type = 'account'`)).rows.map((r) => r.doc).join('\n');
        expect(sealed).not.toContain('Prov-Secret-77');
        expect(sealed).not.toContain(childKey);
      } finally {
        await client.end();
      }
    } finally {
      await node.close();
    }

    const again = spawnTs('src/cli.ts', ['migrate-to-postgres'], { DATA_DIR: dataDir, DATABASE_URL: url });
    expect(await again.exited).toBe(1);
    expect(again.stderr()).toMatch(/already holds \d+ documents: migrate-to-postgres copies into an empty database only \(nothing was copied\)/);
  }, 60_000);

  it('without DATABASE_URL it says what it needs', async () => {
    const run = spawnTs('src/cli.ts', ['migrate-to-postgres'], { DATA_DIR: await tempDir(), DATABASE_URL: '' });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('migrate-to-postgres needs DATABASE_URL');
  });
});
