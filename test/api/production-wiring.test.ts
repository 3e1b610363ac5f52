import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { productionParts } from '../../src/parts.js';

let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });

beforeAll(async () => {
  t = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'embedded', SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0' } });
});
afterAll(() => t.close());

describe('the server as npm start wires it (provisioning + embedded SIP)', () => {
  it('a device created through the API is served to its phone by MAC, and the fetch shows in the API answer', async () => {
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({
      data: { name: 'Desk', mac_address: '80:5e:c0:d5:7d:72', sip: { username: 'desk1', password: 'desk-secret' }, provision: { endpoint_brand: 'yealink', endpoint_family: 't5x', endpoint_model: 'T54W' } },
    });
    expect(made.status).toBe(201);
    const cfg = await t.http().get('/provision/805ec0d57d72.cfg').set('User-Agent', 'Yealink SIP-T54W 96.86.0.100 80:5e:c0:d5:7d:72');
    expect(cfg.status).toBe(200);
    expect(cfg.text.startsWith('#!version:1.0.0.1')).toBe(true);
    expect(cfg.text).toMatch(/account\.1\.password\s*=\s*desk-secret/);
    expect(cfg.headers['cache-control']).toContain('no-store');
    const got = await t.http().get(`/v2/accounts/${t.master.accountId}/devices/${made.body.data.id}`).set(auth());
    expect(got.body.data._read_only.provisioning).toBeDefined();
    expect(JSON.stringify(got.body.data._read_only.provisioning)).toContain('805ec0d57d72.cfg');
    expect(got.body.data._read_only.sip_registration).toEqual({ registered: false });
    // the listing of devices never carries the password
    const list = await t.http().get(`/v2/accounts/${t.master.accountId}/devices`).set(auth());
    expect(JSON.stringify(list.body)).not.toContain('desk-secret');
  });

  it('device actions are mounted: status, and sync to an unregistered phone is answered as Kazoo and kept pending', async () => {
    const status = await t.http().get(`/v2/accounts/${t.master.accountId}/devices/status`).set(auth());
    expect(status.status).toBe(200);
    expect(status.body.data).toEqual([]);
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({ data: { name: 'Offline', sip: { username: 'off1', password: 'off-secret' } } });
    const sync = await t.http().post(`/v2/accounts/${t.master.accountId}/devices/${made.body.data.id}/sync`).set(auth());
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({ status: 'success', data: 'sync request sent' });
    expect(sync.body).not.toHaveProperty('error');
    const got = await t.http().get(`/v2/accounts/${t.master.accountId}/devices/${made.body.data.id}`).set(auth());
    expect(got.body.data._read_only.sip_notify).toMatchObject({ action: 'sync', state: 'pending' });
  });

  it('a quick call to a phone that is not registered is 409 device_not_registered in the Kazoo envelope (404 if SIP were not wired)', async () => {
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({ data: { name: 'Silent', sip: { username: 'silent1', password: 'silent-secret' } } });
    const call = await t.http().get(`/v2/accounts/${t.master.accountId}/devices/${made.body.data.id}/quickcall/100`).set(auth());
    expect(call.status).toBe(409);
    expect(call.headers['content-type']).toBe('application/json');
    const { data, error, message, status } = call.body;
    expect({ data, error, message, status }).toEqual({
      data: { cause: made.body.data.id, message: 'device is not registered; nothing was sent' },
      error: '409',
      message: 'device_not_registered',
      status: 'error',
    });
  });

  it('a template uploaded as raw text/plain through the full API is accepted and served', async () => {
    const A = t.master.accountId;
    const current = await t.http().get(`/v2/accounts/${A}/provisioning/templates/yealink/mac.cfg`).set(auth());
    expect(current.status).toBe(200);
    const source = `${current.body.data.template}\n# account override marker\n`;
    const put = await t.http().put(`/v2/accounts/${A}/provisioning/templates/yealink/mac.cfg`).set(auth()).set('Content-Type', 'text/plain').send(source);
    expect(put.status).toBe(200);
    const cfg = await t.http().get('/provision/805ec0d57d72.cfg').set('User-Agent', 'Yealink SIP-T54W 96.86.0.100 80:5e:c0:d5:7d:72');
    expect(cfg.text).toContain('# account override marker');
  });
});
