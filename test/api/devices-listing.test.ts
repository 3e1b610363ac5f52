import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let A: string;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const list = (query = '') => t.http().get(`/v2/accounts/${A}/devices${query}`).set(auth());
const ids: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  A = t.master.accountId;
  for (let i = 0; i < 7; i++) {
    const res = await t
      .http()
      .put(`/v2/accounts/${A}/devices`)
      .set(auth())
      .send({ data: { name: `dev${i}`, enabled: i % 2 === 0, ...(i === 0 ? { mac_address: '00:04:f2:ab:7e:fd', sip: { username: 'u0', password: 'secret0' } } : {}), ...(i === 3 ? { language: 'fr-fr', device_type: 'softphone' } : {}) } });
    ids.push(res.body.data.id);
  }
  ids.sort();
});
afterAll(() => t.close());

describe('GET /devices summary rows', () => {
  it('returns Kazoo rows ordered by id with page_size = row count', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.page_size).toBe(7);
    expect(res.body.data.map((r: { id: string }) => r.id)).toEqual(ids);
    const row = res.body.data.find((r: { name: string }) => r.name === 'dev0');
    expect(row).toEqual({ device_type: 'sip_device', enabled: true, flags: [], id: row.id, mac_address: '0004f2ab7efd', name: 'dev0', username: 'u0' });
    expect(res.body.data.find((r: { name: string }) => r.name === 'dev1').mac_address).toBe('');
    expect(res.body.next_start_key).toBeUndefined();
  });

  it('paginates with opaque keys (g20AAAAg…), inclusive start key, and paginate=false', async () => {
    const first = await list('?page_size=3');
    expect(first.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(0, 3));
    expect(first.body.page_size).toBe(3);
    expect(first.body.next_start_key).toMatch(/^g20AAAAg/);
    const second = await list(`?page_size=3&start_key=${first.body.next_start_key}`);
    expect(second.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(3, 6));
    expect(second.body.start_key).toBe(first.body.next_start_key);
    const third = await list(`?page_size=3&start_key=${second.body.next_start_key}`);
    expect(third.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(6));
    expect(third.body.next_start_key).toBeUndefined();
    const raw = await list(`?page_size=2&start_key=${ids[5]}`);
    expect(raw.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(5, 7));
    const all = await list('?paginate=false');
    expect(all.body.data).toHaveLength(7);
    expect(all.body.page_size).toBeUndefined();
    const desc = await list('?descending=true&page_size=2');
    expect(desc.body.data.map((r: { id: string }) => r.id)).toEqual([ids[6], ids[5]]);
  });

  it('rejects a bad page_size as Kazoo does (404 faulty_request)', async () => {
    for (const bad of ['abc', '0', '-3']) {
      const res = await list(`?page_size=${bad}`);
      expect(res.status).toBe(404);
      expect(res.body.message).toBe('faulty_request');
    }
  });

  it('filters on full documents: filter_, filter_not_, has_key, key_missing, has_value, value_missing, lists', async () => {
    const names = async (q: string) => (await list(q)).body.data.map((r: { name: string }) => r.name).sort();
    expect(await names('?filter_enabled=true')).toEqual(['dev0', 'dev2', 'dev4', 'dev6']);
    expect(await names('?filter_not_enabled=true')).toEqual(['dev1', 'dev3', 'dev5']);
    expect(await names('?filter_language=fr-fr')).toEqual(['dev3']);
    expect(await names('?filter_sip.username=u0')).toEqual(['dev0']);
    expect(await names('?filter_name=["dev1","dev2"]')).toEqual(['dev1', 'dev2']);
    expect(await names('?has_key=language')).toEqual(['dev3']);
    expect(await names('?key_missing=mac_address&filter_enabled=false')).toEqual(['dev1', 'dev3', 'dev5']);
    expect(await names('?has_value=mac_address')).toEqual(['dev0']);
    expect((await names('?value_missing=mac_address')).length).toBe(6);
    expect(await names('?filter_device_type=softphone')).toEqual(['dev3']);
  });

  it('filters by created/modified time in Gregorian seconds; a non-integer bound matches nothing', async () => {
    const now = Math.floor(Date.now() / 1000) + 62_167_219_200;
    expect((await list(`?created_from=${now - 3600}`)).body.data).toHaveLength(7);
    expect((await list(`?created_to=${now - 3600}`)).body.data).toHaveLength(0);
    expect((await list(`?modified_from=${now + 3600}`)).body.data).toHaveLength(0);
    expect((await list('?created_from=yesterday')).body.data).toHaveLength(0);
  });

  it('filtered pages are refilled until page_size matching rows', async () => {
    const res = await list('?filter_enabled=true&page_size=2');
    expect(res.body.data).toHaveLength(2);
    expect(res.body.data.every((r: { enabled: boolean }) => r.enabled)).toBe(true);
    expect(res.body.next_start_key).toBeDefined();
  });
});

describe('GET /users/{U}/devices', () => {
  it('lists owned and hotdesked devices with hotdesked flags (seed example)', async () => {
    const mk = async (first: string) => (await t.http().put(`/v2/accounts/${A}/users`).set(auth()).send({ data: { first_name: first, last_name: 'X' } })).body.data.id as string;
    const user = await mk('User');
    const owner = await mk('Owner');
    const d1 = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'USER_ID_DEVICE', owner_id: user } });
    const d2 = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'OWNER_ID_DEVICE', owner_id: owner, hotdesk: { users: { [user]: {} } } } });
    const res = await t.http().get(`/v2/accounts/${A}/users/${user}/devices`).set(auth());
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.body.data.map((r: { name: string }) => [r.name, r]));
    expect(byName.USER_ID_DEVICE).toEqual({ device_type: 'sip_device', enabled: true, hotdesked: false, id: d1.body.data.id, mac_address: '', name: 'USER_ID_DEVICE', owner_id: user });
    expect(byName.OWNER_ID_DEVICE).toEqual({ device_type: 'sip_device', enabled: true, hotdesked: true, id: d2.body.data.id, mac_address: '', name: 'OWNER_ID_DEVICE', owner_id: owner });
    expect(res.body.data).toHaveLength(2);
    const missing = await t.http().get(`/v2/accounts/${A}/users/${'e'.repeat(32)}/devices`).set(auth());
    expect(missing.status).toBe(404);
    expect(missing.body.data.cause).toBe('e'.repeat(32));
  });
});
