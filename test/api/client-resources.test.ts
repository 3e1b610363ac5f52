import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChildAccount, startTestServer, tokenFor, type TestServer, testStore } from '../helpers/server.js';
import { APP_CATALOGUE } from '../../src/apps/catalogue.js';

/** The resources Monster UI / SmartPBX / kazoo-php-sdk call on the way to the devices (kazoo-clients.md §3). */
let t: TestServer;
const auth = (token = t.master.token) => ({ 'X-Auth-Token': token });
const A = () => t.master.accountId;
const voip = APP_CATALOGUE.find((a) => a.name === 'voip')!;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

describe('apps_store', () => {
  it('the master account lists every app for its admins; a sub-account none until an operator enables one', async () => {
    const master = await t.http().get(`/v2/accounts/${A()}/apps_store`).set(auth());
    expect(master.status).toBe(200);
    expect(master.body.data.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['voip', 'accounts']));
    expect(master.body.data.find((a: { name: string }) => a.name === 'voip')).toMatchObject({ id: voip.id, allowed_users: 'admins', i18n: { 'en-US': { label: 'Smart PBX' } } });

    const child = await createChildAccount(t, t.master.token, A(), 'Apps child');
    const before = await t.http().get(`/v2/accounts/${child.id}/apps_store`).set(auth());
    expect(before.body.data.every((a: { allowed_users?: string }) => a.allowed_users === undefined)).toBe(true);
    const install = await t.http().put(`/v2/accounts/${child.id}/apps_store/${voip.id}`).set(auth()).send({ data: { allowed_users: 'all' } });
    expect(install.status, install.text).toBe(201);
    const after = await t.http().get(`/v2/accounts/${child.id}/apps_store`).set(auth());
    expect(after.body.data.find((a: { id: string }) => a.id === voip.id)).toMatchObject({ allowed_users: 'all', users: [] });
    const bad = await t.http().post(`/v2/accounts/${child.id}/apps_store/${voip.id}`).set(auth()).send({ data: { allowed_users: 'everyone' } });
    expect(bad.status).toBe(400);
    expect(bad.body.data.allowed_users.enum).toBeDefined();
    expect((await t.http().delete(`/v2/accounts/${child.id}/apps_store/${voip.id}`).set(auth())).status).toBe(200);
    const gone = await t.http().get(`/v2/accounts/${child.id}/apps_store/${voip.id}`).set(auth());
    expect(gone.body.data.allowed_users).toBeUndefined();
    expect((await t.http().get(`/v2/accounts/${child.id}/apps_store/${'0'.repeat(32)}`).set(auth())).status).toBe(404);
  });
});

describe('limits and configs: the account own documents, empty until set', () => {
  it('limits: {} then what was stored; never in the account answer', async () => {
    expect((await t.http().get(`/v2/accounts/${A()}/limits`).set(auth())).body.data).toEqual({ id: 'limits' });
    const set = await t.http().post(`/v2/accounts/${A()}/limits`).set(auth()).send({ data: { twoway_trunks: 5, allow_prepay: true } });
    expect(set.status, set.text).toBe(200);
    const patched = await t.http().patch(`/v2/accounts/${A()}/limits`).set(auth()).send({ data: { inbound_trunks: 2 } });
    expect(patched.body.data).toEqual({ id: 'limits', twoway_trunks: 5, allow_prepay: true, inbound_trunks: 2 });
    expect((await t.http().get(`/v2/accounts/${A()}/limits`).set(auth())).body.data).toMatchObject({ twoway_trunks: 5, inbound_trunks: 2 });
    expect(JSON.stringify((await t.http().get(`/v2/accounts/${A()}`).set(auth())).body)).not.toContain('twoway_trunks');
  });

  it('configs/{category}: {} until PUT, PATCH merges, DELETE empties; a bad category is 400; all extras are bounded', async () => {
    const url = `/v2/accounts/${A()}/configs/kazoo_endpoint`;
    expect((await t.http().get(url).set(auth())).body.data).toEqual({ id: 'kazoo_endpoint' });
    expect((await t.http().put(url).set(auth()).send({ data: { ringtones: { internal: 'a' } } })).status).toBe(201);
    const patched = await t.http().patch(url).set(auth()).send({ data: { language: 'fr-fr' } });
    expect(patched.body.data).toEqual({ id: 'kazoo_endpoint', ringtones: { internal: 'a' }, language: 'fr-fr' });
    const del = await t.http().delete(url).set(auth());
    expect(del.body.data._read_only.deleted).toBe(true);
    expect((await t.http().get(url).set(auth())).body.data).toEqual({ id: 'kazoo_endpoint' });
    expect((await t.http().get(`/v2/accounts/${A()}/configs/bad%20name`).set(auth())).status).toBe(400);
    const huge = await t.http().put(`/v2/accounts/${A()}/configs/big`).set(auth()).send({ data: { blob: 'x'.repeat(70_000) } });
    expect(huge.status).toBe(413);
  });
});

describe('what this server does not manage: honestly empty, writes refused', () => {
  it('phone_numbers, classifiers and callflows', async () => {
    const numbers = await t.http().get(`/v2/accounts/${A()}/phone_numbers?filter_state=%5B%22in_service%22%2C%22port_in%22%5D&paginate=false`).set(auth());
    expect(numbers.status).toBe(200);
    expect(numbers.body.data).toEqual({ numbers: {}, cascade_quantity: 0 });
    expect((await t.http().get(`/v2/accounts/${A()}/phone_numbers/classifiers`).set(auth())).body.data).toEqual({});
    const buy = await t.http().put(`/v2/accounts/${A()}/phone_numbers/+15555550100`).set(auth()).send({ data: {} });
    expect(buy.status).toBe(405);
    expect(buy.body.data.message).toMatch(/phone numbers are not managed by this server/);
    expect((await t.http().get(`/v2/accounts/${A()}/callflows`).set(auth())).body.data).toEqual([]);
    const cf = await t.http().put(`/v2/accounts/${A()}/callflows`).set(auth()).send({ data: { numbers: ['100'] } });
    expect(cf.status).toBe(405);
    expect(cf.body.data.message).toMatch(/callflows are not managed/);
  });
});

describe('about, whitelabel, account tree', () => {
  it('about needs a token and tells the version', async () => {
    expect((await t.http().get('/v2/about')).status).toBe(401);
    expect((await t.http().get('/v2/about').set(auth())).body.data.version).toBe('4.3.0-compatible');
  });

  it('whitelabel: Kazoo 404 until an account sets one for a domain; then the lookup (no token) answers it', async () => {
    expect((await t.http().get('/v2/whitelabel/pbx.example.com')).status).toBe(404);
    expect((await t.http().get(`/v2/accounts/${A()}/whitelabel`).set(auth())).status).toBe(404);
    const set = await t.http().put(`/v2/accounts/${A()}/whitelabel`).set(auth()).send({ data: { domain: 'pbx.example.com', company_name: 'Example' } });
    expect(set.status, set.text).toBe(201);
    const found = await t.http().get('/v2/whitelabel/PBX.example.com');
    expect(found.status).toBe(200);
    expect(found.body.data).toMatchObject({ domain: 'pbx.example.com', company_name: 'Example' });
    const child = await createChildAccount(t, t.master.token, A(), 'WL child');
    const dup = await t.http().put(`/v2/accounts/${child.id}/whitelabel`).set(auth()).send({ data: { domain: 'pbx.example.com' } });
    expect(dup.body.data.domain.unique).toBeDefined();
  });

  it('tree, parents and siblings show only accounts the caller may act on', async () => {
    const a = await createChildAccount(t, t.master.token, A(), 'Tree A');
    const b = await createChildAccount(t, t.master.token, A(), 'Tree B');
    const a1 = await createChildAccount(t, t.master.token, a.id, 'Tree A1');
    const tree = await t.http().get(`/v2/accounts/${a1.id}/tree`).set(auth());
    expect(tree.body.data).toEqual([{ id: A(), name: 'Master' }, { id: a.id, name: 'Tree A' }]);
    const parents = await t.http().get(`/v2/accounts/${a1.id}/parents`).set(auth());
    expect(parents.body.data.map((r: { id: string }) => r.id)).toEqual([A(), a.id]);
    const siblings = await t.http().get(`/v2/accounts/${a.id}/siblings`).set(auth());
    expect(siblings.body.data.map((r: { id: string }) => r.id)).toContain(b.id);
    expect(siblings.body.data.map((r: { id: string }) => r.id)).not.toContain(a.id);
    const aToken = await tokenFor(t, t.master.token, a.id);
    expect((await t.http().get(`/v2/accounts/${a1.id}/tree`).set(auth(aToken))).body.data).toEqual([{ id: a.id, name: 'Tree A' }]);
    expect((await t.http().get(`/v2/accounts/${a.id}/siblings`).set(auth(aToken))).body.data).toEqual([]);
  });
});

describe('api_key rotation and tokens', () => {
  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('PUT api_key gives a new key: the old one no longer authenticates, the new one does, and it is sealed on disk', async () => {
    const child = await createChildAccount(t, t.master.token, A(), 'Rotate');
    const old = (await t.http().get(`/v2/accounts/${child.id}/api_key`).set(auth())).body.data.api_key as string;
    const rotated = await t.http().put(`/v2/accounts/${child.id}/api_key`).set(auth()).send({});
    expect(rotated.status, rotated.text).toBe(201);
    const fresh = rotated.body.data.api_key as string;
    expect(fresh).toMatch(/^[0-9a-f]{64}$/);
    expect(fresh).not.toBe(old);
    expect((await t.http().put('/v2/api_auth').send({ data: { api_key: old } })).status).toBe(404);
    const login = await t.http().put('/v2/api_auth').send({ data: { api_key: fresh } });
    expect(login.status).toBe(201);
    expect(login.body.data.account_id).toBe(child.id);
    const onDisk = await readFile(path.join(t.dataDir, 'system', 'accounts', 'docs.json'), 'utf8');
    expect(onDisk).toContain(child.id);
    expect(onDisk).not.toContain(fresh);
  });

  it('GET user_auth/{token} answers the login data for a valid token, 401 for a bad one', async () => {
    const ok = await t.http().get(`/v2/user_auth/${t.master.token}`);
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ account_id: A(), account_name: 'Master' });
    expect((await t.http().get('/v2/user_auth/not-a-token')).status).toBe(401);
  });

  it('users/{U}/hotdesks lists the devices the user is hotdesked into', async () => {
    const user = await t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { first_name: 'Hot', last_name: 'Desk' } });
    const U = user.body.data.id;
    const dev = await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: 'Shared desk', hotdesk: { users: { [U]: {} } } } });
    await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: 'Other desk' } });
    const rows = await t.http().get(`/v2/accounts/${A()}/users/${U}/hotdesks`).set(auth());
    expect(rows.status).toBe(200);
    expect(rows.body.data).toEqual([{ device_id: dev.body.data.id, device_name: 'Shared desk' }]);
    expect((await t.http().get(`/v2/accounts/${A()}/users/${'f'.repeat(32)}/hotdesks`).set(auth())).status).toBe(404);
  });
});
