import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestServer, testStore, type TestServer } from '../helpers/server.js';

/** The suite's one parameter (TEST_STORE, set per vitest project) really picks where documents are written. */
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.close();
});

describe(`the ${testStore} store under test`, () => {
  it('holds the devices the API creates', async () => {
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set('X-Auth-Token', t.master.token).send({ data: { name: 'Where am I' } });
    expect(made.status, made.text).toBe(201);
    const id = made.body.data.id as string;
    if (testStore === 'postgres') {
      expect(t.config.databaseUrl).toBeDefined();
      const client = new pg.Client({ connectionString: t.config.databaseUrl });
      await client.connect();
      try {
        const rows = (await client.query(`SELECT doc->>'name' AS name FROM docs WHERE type = 'device' AND id = $1`, [id])).rows;
        expect(rows).toEqual([{ name: 'Where am I' }]);
      } finally {
        await client.end();
      }
      expect(await readdir(path.join(t.dataDir, 'accounts')).catch(() => [])).toEqual([]);
    } else {
      expect(t.config.databaseUrl).toBeUndefined();
      const dir = path.join(t.dataDir, 'accounts', t.master.accountId, 'devices');
      const texts = await Promise.all((await readdir(dir)).map((f) => readFile(path.join(dir, f), 'utf8')));
      expect(texts.some((text) => text.includes(id))).toBe(true);
    }
  });
});
