import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createDatabase } from '../helpers/postgres.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

/**
 * Two API servers on one PostgreSQL database, as two nodes behind a load balancer (without the balancer: each
 * request names its node). What the database decides must hold across them.
 */
let a: TestServer;
let b: TestServer;
let auth: { a: Record<string, string>; b: Record<string, string> };
let url: string;
const PATCHES = 40;
/** How long a node may take to learn another's commit (a bound, not a wait: polls end as soon as it holds). */
const LEARN = { timeout: 15_000 };

/** The stored version of a document, read from the database itself. */
async function storedDoc(id: string): Promise<{ rev: string; doc: Record<string, unknown> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const row = (await client.query<{ rev: string; doc: string }>('SELECT rev, doc FROM docs WHERE id = $1', [id])).rows[0]!;
    return { rev: row.rev, doc: JSON.parse(row.doc) as Record<string, unknown> };
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  url = await createDatabase(inject('postgresUrl'));
  const env = { DATABASE_URL: url, SECRETS_KEY_FILE: `${await tempDir()}/secrets.key` };
  a = await startTestServer({ env });
  b = await startTestServer({ env });
  auth = { a: { 'X-Auth-Token': a.master.token }, b: { 'X-Auth-Token': b.master.token } };
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
});

const devices = (t: TestServer) => `/v2/accounts/${t.master.accountId}/devices`;

describe('two nodes on one PostgreSQL database', () => {
  it(`${PATCHES} concurrent PATCHes of different keys of one device, spread over both nodes, all survive`, async () => {
    const made = await a.http().put(devices(a)).set(auth.a).send({ data: { name: 'Shared' } });
    expect(made.status).toBe(201);
    const id = made.body.data.id as string;
    await expect.poll(() => b.server.store.getDevice(a.master.accountId, id), LEARN).toBeDefined();
    const answers = await Promise.all(
      Array.from({ length: PATCHES }, (_, i) => {
        const [t, h] = i % 2 ? [b, auth.b] : [a, auth.a];
        return t.http().patch(`${devices(t)}/${id}`).set(h).send({ data: { [`key_${i}`]: i } });
      }),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(PATCHES).fill(200));
    // The stored device holds every key, and both nodes come to serve that version.
    const stored = await storedDoc(id);
    for (let i = 0; i < PATCHES; i++) expect(stored.doc[`key_${i}`], `key_${i}`).toBe(i);
    for (const t of [a, b]) await expect.poll(() => t.server.store.getDevice(a.master.accountId, id)?._rev, LEARN).toBe(stored.rev);
  });

  it('PATCH with If-Match on a revision the other node replaced answers 412, and changes nothing', async () => {
    const made = await a.http().put(devices(a)).set(auth.a).send({ data: { name: 'Guarded' } });
    const id = made.body.data.id as string;
    const rev = made.body.revision as string;
    await expect.poll(() => b.server.store.getDevice(a.master.accountId, id), LEARN).toBeDefined();
    // Both nodes build on `rev` at the same moment: one commits, the other finds the newer revision.
    const [first, second] = await Promise.all([
      a.http().patch(`${devices(a)}/${id}`).set({ ...auth.a, 'If-Match': `"${rev}"` }).send({ data: { name: 'From A' } }),
      b.http().patch(`${devices(b)}/${id}`).set({ ...auth.b, 'If-Match': `"${rev}"` }).send({ data: { name: 'From B' } }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 412]);
    const winner = first.status === 200 ? first : second;
    expect((await storedDoc(id)).doc.name).toBe(winner.body.data.name);
  });

  it('the same MAC created on both nodes at once gives exactly one 201; the other is the 400 unique error', async () => {
    const [x, y] = await Promise.all([
      a.http().put(devices(a)).set(auth.a).send({ data: { name: 'One', mac_address: 'aa:bb:cc:00:11:22' } }),
      b.http().put(devices(b)).set(auth.b).send({ data: { name: 'Two', mac_address: 'aa:bb:cc:00:11:22' } }),
    ]);
    expect([x.status, y.status].sort()).toEqual([201, 400]);
    const refused = x.status === 400 ? x : y;
    expect(refused.body).toMatchObject({ error: '400', message: 'validation error', data: { mac_address: { unique: { message: 'MAC address already in use', cause: 'aabbcc001122' } } } });
  });

  it('concurrent PATCHes of an account\'s limits and of the account itself on both nodes all survive', async () => {
    const account = `/v2/accounts/${a.master.accountId}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const [t, h] = i % 2 ? [b, auth.b] : [a, auth.a];
        return i % 4 < 2
          ? t.http().patch(`${account}/limits`).set(h).send({ data: { [`limit_${i}`]: i } })
          : t.http().patch(account).set(h).send({ data: { [`field_${i}`]: i } });
      }),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    // The stored account holds every key any of the 20 requests set, and B comes to serve it.
    const stored = await storedDoc(a.master.accountId);
    await expect.poll(() => b.server.store.getAccount(a.master.accountId)?._rev, LEARN).toBe(stored.rev);
    const limits = (await b.http().get(`${account}/limits`).set(auth.b)).body.data as Record<string, number>;
    const fields = (await b.http().get(account).set(auth.b)).body.data as Record<string, number>;
    for (let i = 0; i < 20; i++) expect(i % 4 < 2 ? limits[`limit_${i}`] : fields[`field_${i}`], `key ${i}`).toBe(i);
  });

  it('an API token issued by one node is good on the other, and once revoked on one it is refused by the other', async () => {
    const issued = await a.http().put('/v2/api_auth').send({ data: { api_key: a.master.apiKey } });
    expect(issued.status).toBe(201);
    const token = issued.body.auth_token as string;
    const onB = () => b.http().get('/v2/token_auth').set('X-Auth-Token', token);
    expect((await onB()).status).toBe(200);
    expect((await b.http().get(devices(b)).set('X-Auth-Token', token)).status).toBe(200);
    expect((await a.http().delete('/v2/token_auth').set('X-Auth-Token', token)).status).toBe(200);
    expect((await a.http().get('/v2/token_auth').set('X-Auth-Token', token)).status).toBe(401);
    // B learns of it through NOTIFY (or its poll): a bounded number of asks, each ending as soon as B refuses.
    let status = 0;
    for (let ask = 0; ask < 100 && status !== 401; ask++) {
      if (ask) await new Promise((r) => setTimeout(r, 50));
      status = (await onB()).status;
    }
    expect(status).toBe(401);
    // Only that token: the others stay good on both nodes.
    expect((await b.http().get('/v2/token_auth').set(auth.a)).status).toBe(200);
    expect((await a.http().get('/v2/token_auth').set(auth.b)).status).toBe(200);
  });
});
