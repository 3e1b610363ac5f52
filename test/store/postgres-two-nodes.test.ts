import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../helpers/postgres.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

/**
 * Two API servers on one PostgreSQL database, as two nodes behind a load balancer (without the balancer: each
 * request names its node). What the database decides must hold across them.
 */
let a: TestServer;
let b: TestServer;
let auth: { a: Record<string, string>; b: Record<string, string> };
const PATCHES = 40;

beforeAll(async () => {
  const url = await createDatabase(inject('postgresUrl'));
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
    await expect.poll(() => b.server.store.getDevice(a.master.accountId, id)).toBeDefined();
    const answers = await Promise.all(
      Array.from({ length: PATCHES }, (_, i) => {
        const [t, h] = i % 2 ? [b, auth.b] : [a, auth.a];
        return t.http().patch(`${devices(t)}/${id}`).set(h).send({ data: { [`key_${i}`]: i } });
      }),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(PATCHES).fill(200));
    // Whichever node answered last, the stored device holds every key; both nodes end on the same revision.
    const final = await a.http().get(`${devices(a)}/${id}`).set(auth.a);
    for (let i = 0; i < PATCHES; i++) expect(final.body.data[`key_${i}`], `key_${i}`).toBe(i);
    await expect.poll(() => b.server.store.getDevice(a.master.accountId, id)?._rev).toBe(final.body.revision);
  });

  it('PATCH with If-Match on a revision the other node replaced answers 412, and changes nothing', async () => {
    const made = await a.http().put(devices(a)).set(auth.a).send({ data: { name: 'Guarded' } });
    const id = made.body.data.id as string;
    const rev = made.body.revision as string;
    await expect.poll(() => b.server.store.getDevice(a.master.accountId, id)).toBeDefined();
    // Both nodes build on `rev` at the same moment: one commits, the other finds the newer revision.
    const [first, second] = await Promise.all([
      a.http().patch(`${devices(a)}/${id}`).set({ ...auth.a, 'If-Match': `"${rev}"` }).send({ data: { name: 'From A' } }),
      b.http().patch(`${devices(b)}/${id}`).set({ ...auth.b, 'If-Match': `"${rev}"` }).send({ data: { name: 'From B' } }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 412]);
    const winner = first.status === 200 ? first : second;
    const stored = await b.http().get(`${devices(b)}/${id}`).set(auth.b);
    expect(stored.body.data.name).toBe(winner.body.data.name);
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
    // Once B has learnt A's last write, it answers every key that any of the 20 requests set.
    await expect.poll(async () => (await b.http().get(account).set(auth.b)).body.revision).toBe((await a.http().get(account).set(auth.a)).body.revision);
    const limits = (await b.http().get(`${account}/limits`).set(auth.b)).body.data as Record<string, number>;
    const fields = (await b.http().get(account).set(auth.b)).body.data as Record<string, number>;
    for (let i = 0; i < 20; i++) expect(i % 4 < 2 ? limits[`limit_${i}`] : fields[`field_${i}`], `key ${i}`).toBe(i);
  });
});
