import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Crossbar's conventions that Kazoo's clients rely on (kazoo-clients.md §4). */
let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const A = () => t.master.accountId;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

const makeDevice = async (data: Record<string, unknown>) => {
  const res = await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data });
  expect(res.status, res.text).toBe(201);
  return res.body.data.id as string;
};

describe('Content-Type', () => {
  it('is exactly application/json on success and error answers (Monster parses errors only then)', async () => {
    const ok = await t.http().get(`/v2/accounts/${A()}`).set(auth());
    expect(ok.headers['content-type']).toBe('application/json');
    const bad = await t.http().put('/v2/user_auth').send({ data: { credentials: md5('admin:wrong'), account_name: 'Master' } });
    expect(bad.status).toBe(401);
    expect(bad.headers['content-type']).toBe('application/json');
    expect(bad.body).toMatchObject({ status: 'error', message: 'invalid_credentials' });
  });

  it('CORS allows X-Kazoo-Cluster-ID', async () => {
    const pre = await t.http().options(`/v2/accounts/${A()}`).set('Access-Control-Request-Headers', 'x-kazoo-cluster-id');
    expect(pre.status).toBe(200);
    expect(pre.headers['access-control-allow-headers']).toContain('X-Kazoo-Cluster-ID');
  });
});

describe('verb tunnelling', () => {
  it('POST ?verb=PATCH merges (a real PATCH), it does not replace the document', async () => {
    const id = await makeDevice({ name: 'ovr', language: 'fr-fr' });
    const res = await t.http().post(`/v2/accounts/${A()}/devices/${id}?verb=PATCH`).set(auth()).send({ data: { name: 'ovr3' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'ovr3', language: 'fr-fr' });
  });

  it('X-HTTP-Method-Override: PATCH and the envelope verb do the same', async () => {
    const id = await makeDevice({ name: 'hdr', language: 'de-de' });
    const res = await t.http().post(`/v2/accounts/${A()}/devices/${id}`).set(auth()).set('X-HTTP-Method-Override', 'PATCH').send({ data: { name: 'hdr2' } });
    expect(res.body.data).toMatchObject({ name: 'hdr2', language: 'de-de' });
    const env = await t.http().post(`/v2/accounts/${A()}/devices/${id}`).set(auth()).send({ verb: 'patch', data: { name: 'hdr3' } });
    expect(env.body.data).toMatchObject({ name: 'hdr3', language: 'de-de' });
  });

  it('POST ?verb=DELETE deletes; GET ?verb=DELETE does not; an unknown verb is 405', async () => {
    const id = await makeDevice({ name: 'del' });
    const got = await t.http().get(`/v2/accounts/${A()}/devices/${id}?verb=DELETE`).set(auth());
    expect(got.status).toBe(200);
    const del = await t.http().post(`/v2/accounts/${A()}/devices/${id}?verb=DELETE`).set(auth()).send({});
    expect(del.status, del.text).toBe(200);
    expect((await t.http().get(`/v2/accounts/${A()}/devices/${id}`).set(auth())).status).toBe(404);
    const odd = await t.http().post(`/v2/accounts/${A()}/devices?verb=BREW`).set(auth()).send({});
    expect(odd.status).toBe(405);
    expect(odd.body.message).toBe('invalid_method');
  });
});

describe('CSV listings', () => {
  it('Accept: text/csv and ?accept=csv render the listing as CSV; a document stays JSON', async () => {
    await makeDevice({ name: 'Desk, "east"', mac_address: '00:15:65:aa:bb:07' });
    for (const req of [
      t.http().get(`/v2/accounts/${A()}/devices`).set(auth()).set('Accept', 'text/csv'),
      t.http().get(`/v2/accounts/${A()}/devices?accept=csv`).set(auth()),
    ]) {
      const res = await req;
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const lines = res.text.trim().split('\r\n');
      const header = lines[0]!.split(',');
      expect(header).toEqual(expect.arrayContaining(['id', 'name', 'mac_address', 'device_type', 'enabled']));
      expect(res.text).toContain('"Desk, ""east"""');
      expect(res.text).toContain('001565aabb07');
    }
    const doc = await t.http().get(`/v2/accounts/${A()}`).set(auth()).set('Accept', 'text/csv');
    expect(doc.headers['content-type']).toBe('application/json');
  });
});

describe('users and user_auth', () => {
  it('user_auth accepts `realm` (kazoo-php-sdk) like `account_realm`', async () => {
    const res = await t.http().put('/v2/user_auth').send({ data: { credentials: md5('admin:admin-pass'), realm: 'master.test' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.account_id).toBe(A());
  });

  it('a user with a username and no password is created; it cannot log in until a password is set', async () => {
    const made = await t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { first_name: 'No', last_name: 'Pass', username: 'nopass' } });
    expect(made.status, made.text).toBe(201);
    const login = () => t.http().put('/v2/user_auth').send({ data: { credentials: md5('nopass:later-pw'), account_realm: 'master.test' } });
    expect((await login()).status).toBe(401);
    const set = await t.http().patch(`/v2/accounts/${A()}/users/${made.body.data.id}`).set(auth()).send({ data: { password: 'later-pw' } });
    expect(set.status, set.text).toBe(200);
    expect((await login()).status).toBe(201);
  });
});
