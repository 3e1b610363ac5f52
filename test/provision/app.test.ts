import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createProvisioning } from '../../src/provision/index.js';
import { readGrandstream, readKeyValue } from './support/readers.js';

/** Through the real app: store, /v2 auth and scoping, the node:http split to the phone handler. */
let t: TestServer;
let A: string;
let token: string;

beforeAll(async () => {
  t = await startTestServer({
    parts: {
      provisioning: ({ config, log, store, events }) => createProvisioning({ config, log, directory: store, events }),
    },
  });
  A = t.master.accountId;
  token = t.master.token;
});
afterAll(async () => {
  await t?.close();
});

const api = (method: 'get' | 'put' | 'post' | 'patch' | 'delete', p: string) => t.http()[method](`/v2/accounts/${A}${p}`).set('X-Auth-Token', token);

async function createDevice(data: Record<string, unknown>): Promise<string> {
  const res = await api('put', '/devices').send({ data });
  expect(res.status, res.text).toBe(201);
  return res.body.data.id as string;
}

describe('phone fetch through the real server', () => {
  it('serves a device created through the API, records the fetch and shows it under _read_only', async () => {
    const id = await createDevice({
      name: 'Lobby phone',
      mac_address: '00:15:65:12:34:56',
      sip: { username: 'lobby1', password: 'lobbypass1', expire_seconds: 900 },
      media: { audio: { codecs: ['PCMA', 'G729'] } },
      provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S', combo_keys: { '0': { type: 'parking', value: 4 } } },
    });
    const ua = 'Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56';
    const res = await t.http().get('/provision/001565123456.cfg').set('User-Agent', ua);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const kv = readKeyValue(res.text);
    expect(kv.get('account.1.user_name')).toBe('lobby1');
    expect(kv.get('account.1.password')).toBe('lobbypass1');
    expect(kv.get('account.1.sip_server.1.address')).toBe(t.master.realm);
    expect(kv.get('account.1.sip_server.1.expires')).toBe('900');
    expect([kv.get('account.1.codec.pcma.priority'), kv.get('account.1.codec.g729.priority'), kv.get('account.1.codec.pcmu.enable')]).toEqual(['1', '2', '0']);
    expect([kv.get('linekey.1.type'), kv.get('linekey.1.value')]).toEqual(['10', '*34']);

    const dev = await api('get', `/devices/${id}`);
    expect(dev.status).toBe(200);
    const prov = dev.body.data._read_only?.provisioning;
    expect(prov).toMatchObject({ vendor: 'yealink', model: 'T46S', files: ['001565123456.boot', 'y000000000066.cfg', '001565123456.cfg', '001565123456-phonebook.xml'] });
    expect(prov.last_fetch).toMatchObject({ address: '127.0.0.1', user_agent: ua, file: '001565123456.cfg' });

    // An update through the API changes the next fetch (render cache keyed on _rev).
    await api('patch', `/devices/${id}`).send({ data: { sip: { password: 'changed-pass' } } }).expect(200);
    expect(readKeyValue((await t.http().get('/provision/001565123456.cfg').set('User-Agent', ua)).text).get('account.1.password')).toBe('changed-pass');
    // Disabled through the API: 404.
    await api('patch', `/devices/${id}`).send({ data: { enabled: false } }).expect(200);
    expect((await t.http().get('/provision/001565123456.cfg').set('User-Agent', ua)).status).toBe(404);
  });

  it('fingerprint changes when the output changes and not otherwise', async () => {
    const id = await createDevice({ name: 'GS', mac_address: '000b82654321', sip: { username: 'gs1', password: 'gspass12' } });
    const f1 = await t.server.provisioning!.fingerprint(A, id);
    expect(f1).toMatch(/^[0-9a-f]{64}$/);
    expect(await t.server.provisioning!.fingerprint(A, id)).toBe(f1);
    await api('patch', `/devices/${id}`).send({ data: { caller_id: { internal: { name: 'New Name' } } } }).expect(200);
    const f2 = await t.server.provisioning!.fingerprint(A, id);
    expect(f2).not.toBe(f1);
    const res = await t.http().get('/provision/cfg000b82654321.xml').set('User-Agent', 'Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b82654321');
    expect((await readGrandstream(res.text)).p.get('P3')).toBe('New Name');
    const noMac = await createDevice({ name: 'softphone' });
    expect(await t.server.provisioning!.fingerprint(A, noMac)).toBeNull();
  });

  it('template API behind real auth; basic auth from the account document', async () => {
    await t.http().get(`/v2/accounts/${A}/provisioning/templates`).expect(401);
    const list = await api('get', '/provisioning/templates').expect(200);
    expect(list.body.data.length).toBe(16); // 6 before; Yealink: mac.boot, dect-mac.cfg, common.boot, phonebook.xml; Grandstream: ATA, DECT, config v2, phonebook; Polycom: two directories
    const put = await api('put', '/provisioning/templates/yealink/mac.cfg').send({ data: { template: '#!version:1.0.0.1\naccount.1.user_name = {{sip.username}}\nfrom = account\n' } });
    expect(put.status, put.text).toBe(200);
    await createDevice({ name: 'Y2', mac_address: '001565aa0002', sip: { username: 'y2user', password: 'y2pass12' } });
    expect(readKeyValue((await t.http().get('/provision/001565aa0002.cfg')).text).get('from')).toBe('account');

    const patch = await t.http().patch(`/v2/accounts/${A}`).set('X-Auth-Token', token)
      .send({ data: { provisioning: { http_auth: { type: 'basic', username: 'prov', password: 'prov-pass' } } } });
    expect(patch.status, patch.text).toBe(200);
    expect((await t.http().get('/provision/001565aa0002.cfg')).status).toBe(401);
    const ok = await t.http().get('/provision/001565aa0002.cfg').auth('prov', 'prov-pass');
    expect(ok.status).toBe(200);
  });
});
