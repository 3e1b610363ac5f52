import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

describe('accounts', () => {
  it('creates a child, reads, updates, patches and deletes it', async () => {
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'Acme', realm: 'acme.test' } });
    expect(made.status).toBe(201);
    const id = made.body.data.id;
    expect(made.headers.location).toBe(`/v2/accounts/${id}`);
    expect(made.body.data).toMatchObject({ name: 'Acme', realm: 'acme.test', enabled: true });
    expect(JSON.stringify(made.body.data)).not.toMatch(/api_key|pvt_/);
    const got = await t.http().get(`/v2/accounts/${id}`).set(auth());
    expect(got.body.data.name).toBe('Acme');
    const posted = await t.http().post(`/v2/accounts/${id}`).set(auth()).send({ data: { name: 'Acme Inc', realm: 'acme.test' } });
    expect(posted.body.data.name).toBe('Acme Inc');
    const patched = await t.http().patch(`/v2/accounts/${id}`).set(auth()).send({ data: { timezone: 'Europe/Paris' } });
    expect(patched.body.data).toMatchObject({ name: 'Acme Inc', timezone: 'Europe/Paris' });
    const key = await t.http().get(`/v2/accounts/${id}/api_key`).set(auth());
    expect(key.body.data.api_key).toMatch(/^[0-9a-f]{64}$/);
    expect((await t.http().delete(`/v2/accounts/${id}`).set(auth())).status).toBe(200);
    expect((await t.http().get(`/v2/accounts/${id}`).set(auth())).status).toBe(404);
  });

  it('PUT /v2/accounts creates a child of the caller\'s own account', async () => {
    const res = await t.http().put('/v2/accounts').set(auth()).send({ data: { name: 'Direct child' } });
    expect(res.status).toBe(201);
    expect(res.body.data.realm).toMatch(/\.sip\.local$/);
    expect(t.server.store.getAccount(res.body.data.id)?.pvt_tree).toEqual([t.master.accountId]);
    expect((await t.http().put('/v2/accounts').send({ data: { name: 'anon' } })).status).toBe(401);
  });

  it('realm is unique across the system (case-insensitive); name required', async () => {
    const dup = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'Dup', realm: 'MASTER.test' } });
    expect(dup.status).toBe(400);
    expect(dup.body.data.realm.unique).toBeDefined();
    const noName = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: {} });
    expect(noName.body.data.name.required).toBeDefined();
  });

  it('lists children and descendants', async () => {
    const top = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'Top' } });
    const mid = await t.http().put(`/v2/accounts/${top.body.data.id}`).set(auth()).send({ data: { name: 'Mid' } });
    const leaf = await t.http().put(`/v2/accounts/${mid.body.data.id}`).set(auth()).send({ data: { name: 'Leaf' } });
    const children = await t.http().get(`/v2/accounts/${top.body.data.id}/children`).set(auth());
    expect(children.body.data.map((r: { name: string }) => r.name)).toEqual(['Mid']);
    const descendants = await t.http().get(`/v2/accounts/${top.body.data.id}/descendants`).set(auth());
    expect(descendants.body.data.map((r: { id: string }) => r.id).sort()).toEqual([mid.body.data.id, leaf.body.data.id].sort());
    expect(descendants.body.data.find((r: { id: string }) => r.id === leaf.body.data.id).tree).toEqual([t.master.accountId, top.body.data.id, mid.body.data.id]);
  });

  it('refuses to delete an account with children, and the master account', async () => {
    const parent = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'P' } });
    await t.http().put(`/v2/accounts/${parent.body.data.id}`).set(auth()).send({ data: { name: 'C' } });
    expect((await t.http().delete(`/v2/accounts/${parent.body.data.id}`).set(auth())).status).toBe(400);
    expect((await t.http().delete(`/v2/accounts/${t.master.accountId}`).set(auth())).status).toBe(403);
  });

  it('keeps the provisioning HTTP password write-only', async () => {
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'Prov', provisioning: { http_auth: { type: 'digest', username: 'phones', password: 'phone-secret-1' } } } });
    expect(made.status).toBe(201);
    expect(JSON.stringify(made.body)).not.toContain('phone-secret-1');
    expect(made.body.data.provisioning.http_auth).toEqual({ type: 'digest', username: 'phones', password_set: true });
    // GET -> POST round trip keeps the stored password
    const id = made.body.data.id;
    const got = await t.http().get(`/v2/accounts/${id}`).set(auth());
    await t.http().post(`/v2/accounts/${id}`).set(auth()).send({ data: got.body.data });
    expect(t.server.store.getAccount(id)?.provisioning?.http_auth?.password).toBe('phone-secret-1');
  });
});

describe('users', () => {
  it('CRUD with hashed password never returned, and user_auth with the new credentials', async () => {
    const A = t.master.accountId;
    const made = await t.http().put(`/v2/accounts/${A}/users`).set(auth()).send({ data: { first_name: 'Ann', last_name: 'Lee', username: 'ann', password: 'pw-ann-1', email: 'ann@example.com', presence_id: '2001' } });
    expect(made.status).toBe(201);
    const id = made.body.data.id;
    expect(made.body.data).toMatchObject({ first_name: 'Ann', username: 'ann', presence_id: '2001' });
    expect(JSON.stringify(made.body)).not.toMatch(/pw-ann-1|md5|sha1/);
    const login = await t.http().put('/v2/user_auth').send({ data: { credentials: createHash('md5').update('ann:pw-ann-1').digest('hex'), account_realm: 'master.test' } });
    expect(login.status).toBe(201);
    expect(login.body.data.owner_id).toBe(id);
    const listed = await t.http().get(`/v2/accounts/${A}/users`).set(auth());
    expect(listed.body.data.find((u: { id: string }) => u.id === id)).toMatchObject({ first_name: 'Ann', username: 'ann' });
    const patched = await t.http().patch(`/v2/accounts/${A}/users/${id}`).set(auth()).send({ data: { hotdesk: { enabled: true } } });
    expect(patched.body.data.hotdesk.enabled).toBe(true);
    const dupName = await t.http().put(`/v2/accounts/${A}/users`).set(auth()).send({ data: { first_name: 'A', last_name: 'B', username: 'ANN', password: 'x1' } });
    expect(dupName.body.data.username.unique).toBeDefined();
    const renameNoPw = await t.http().patch(`/v2/accounts/${A}/users/${id}`).set(auth()).send({ data: { username: 'annie' } });
    expect(renameNoPw.body.data.password.required).toBeDefined();
    expect((await t.http().delete(`/v2/accounts/${A}/users/${id}`).set(auth())).status).toBe(200);
    expect((await t.http().get(`/v2/accounts/${A}/users/${id}`).set(auth())).status).toBe(404);
  });
});
