import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { readKeyValue } from '../provision/support/readers.js';
import { productionParts } from '../../src/parts.js';

/** Phone settings through /v2: the shared schema, write-only passwords, generated passwords and key capacity. */
let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const yealink = { endpoint_brand: 'yealink', endpoint_family: 't4x', endpoint_model: 'T46S' };
const ua = (mac: string) => `Yealink SIP-T46S 66.86.0.15 ${mac.match(/../g)!.join(':')}`;

beforeAll(async () => {
  t = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'none', SIP_PORT: '5070' } });
});
afterAll(() => t.close());

async function phoneFile(mac: string) {
  const res = await t.http().get(`/provision/${mac}.cfg`).set('User-Agent', ua(mac));
  expect(res.status).toBe(200);
  return readKeyValue(res.text);
}

describe('account settings (the README example)', () => {
  it('PATCH transport=tls, an outbound proxy, a resync window and an admin password; the phone gets them, the API never shows the password', async () => {
    const A = t.master.accountId;
    const patch = await t.http().patch(`/v2/accounts/${A}`).set(auth()).send({
      data: {
        provisioning: {
          settings: {
            sip_server: { transport: 'tls', port: 5061 },
            outbound_proxy: 'sbc.example.com:5080',
            resync: { window: { start: '02:00', end: '04:00' } },
            admin_password: 'Acct-Admin-Pw-77',
          },
        },
      },
    });
    expect(patch.status).toBe(200);
    expect(JSON.stringify(patch.body)).not.toContain('Acct-Admin-Pw-77');
    expect(patch.body.data.provisioning.settings).toMatchObject({ admin_password_set: true, outbound_proxy: 'sbc.example.com:5080' });
    const get = await t.http().get(`/v2/accounts/${A}`).set(auth());
    expect(JSON.stringify(get.body)).not.toContain('Acct-Admin-Pw-77');

    const dev = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
      data: { name: 'Desk', mac_address: '00:15:65:10:00:01', sip: { username: 'desk1', password: 'desk-sip-pw' }, provision: yealink },
    });
    expect(dev.status).toBe(201);
    const kv = await phoneFile('001565100001');
    expect(Object.fromEntries(['account.1.sip_server.1.transport_type', 'account.1.sip_server.1.port', 'account.1.outbound_proxy.1.address', 'account.1.outbound_proxy.1.port', 'static.auto_provision.weekly.begin_time', 'static.security.user_password'].map((k) => [k, kv.get(k)]))).toEqual({
      'account.1.sip_server.1.transport_type': '2',
      'account.1.sip_server.1.port': '5061',
      'account.1.outbound_proxy.1.address': 'sbc.example.com',
      'account.1.outbound_proxy.1.port': '5080',
      'static.auto_provision.weekly.begin_time': '02:00',
      'static.security.user_password': 'admin:Acct-Admin-Pw-77',
    });

    // A client that sends the view back (POST replaces) keeps the password it never saw.
    const view = (await t.http().get(`/v2/accounts/${A}`).set(auth())).body.data;
    const { id: _id, ...fields } = view;
    const post = await t.http().post(`/v2/accounts/${A}`).set(auth()).send({ data: fields });
    expect(post.status).toBe(200);
    expect((await phoneFile('001565100001')).get('static.security.user_password')).toBe('admin:Acct-Admin-Pw-77');
    // Clean up for the other tests: the account setting goes away (PATCH null deletes).
    await t.http().patch(`/v2/accounts/${A}`).set(auth()).send({ data: { provisioning: { settings: null } } }).expect(200);
  });

  it('refuses a setting outside the shared schema, in Kazoo\'s envelope', async () => {
    const A = t.master.accountId;
    const bad = await t.http().patch(`/v2/accounts/${A}`).set(auth()).send({ data: { provisioning: { settings: { sip_server: { transport: 'sctp' } } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.data['provisioning.settings.sip_server.transport']).toHaveProperty('enum');
    const dev = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
      data: { name: 'Bad', mac_address: '00:15:65:10:00:09', provision: { ...yealink, settings: { vlan: { id: 5000 } } } },
    });
    expect(dev.status).toBe(400);
    expect(dev.body.data['provision.settings.vlan.id']).toHaveProperty('maximum');
  });
});

describe('device phone passwords', () => {
  it('are generated per device when none is set, differ between devices and never appear in the API', async () => {
    const A = t.master.accountId;
    const ids: string[] = [];
    for (const [n, mac] of [['1', '00:15:65:20:00:01'], ['2', '00:15:65:20:00:02']]) {
      const res = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
        data: { name: `Gen ${n}`, mac_address: mac, sip: { username: `gen${n}`, password: `gen-sip-${n}` }, provision: yealink },
      });
      expect(res.status).toBe(201);
      ids.push(res.body.data.id);
    }
    const a = (await phoneFile('001565200001')).get('static.security.user_password')!;
    const b = (await phoneFile('001565200002')).get('static.security.user_password')!;
    expect(a).toMatch(/^admin:[A-Za-z2-9]{16}$/);
    expect(b).toMatch(/^admin:[A-Za-z2-9]{16}$/);
    expect(a).not.toBe(b);
    // Stable across saves: a rename keeps the generated password.
    await t.http().patch(`/v2/accounts/${A}/devices/${ids[0]}`).set(auth()).send({ data: { name: 'Gen 1 renamed' } }).expect(200);
    expect((await phoneFile('001565200001')).get('static.security.user_password')).toBe(a);
    const secret = a.slice('admin:'.length);
    const seen = [
      JSON.stringify((await t.http().get(`/v2/accounts/${A}/devices/${ids[0]}`).set(auth())).body),
      JSON.stringify((await t.http().get(`/v2/accounts/${A}/devices`).set(auth())).body),
    ];
    for (const text of seen) expect(text).not.toContain(secret);
  });

  it('a device password set through the API is write-only and wins over the account\'s', async () => {
    const A = t.master.accountId;
    await t.http().patch(`/v2/accounts/${A}`).set(auth()).send({ data: { provisioning: { settings: { admin_password: 'Account-Level-Pw' } } } }).expect(200);
    const res = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
      data: { name: 'Own', mac_address: '00:15:65:30:00:01', sip: { username: 'own1', password: 'own-sip' }, provision: { ...yealink, settings: { admin_password: 'Device-Own-Pw-1' } } },
    });
    expect(res.status).toBe(201);
    expect(JSON.stringify(res.body)).not.toContain('Device-Own-Pw-1');
    expect(res.body.data.provision.settings).toEqual({ admin_password_set: true });
    expect((await phoneFile('001565300001')).get('static.security.user_password')).toBe('admin:Device-Own-Pw-1');
    // POST of the view (with admin_password_set) keeps it.
    const { id: _id, _read_only: _ro, ...fields } = (await t.http().get(`/v2/accounts/${A}/devices/${res.body.data.id}`).set(auth())).body.data;
    await t.http().post(`/v2/accounts/${A}/devices/${res.body.data.id}`).set(auth()).send({ data: fields }).expect(200);
    expect((await phoneFile('001565300001')).get('static.security.user_password')).toBe('admin:Device-Own-Pw-1');
    await t.http().patch(`/v2/accounts/${A}`).set(auth()).send({ data: { provisioning: { settings: null } } }).expect(200);
  });
});

describe('key capacity', () => {
  it('a key the known model cannot hold is a 400 naming the model and its capacity; an unknown model is taken as given', async () => {
    const A = t.master.accountId;
    const put = (mac: string, provision: Record<string, unknown>) =>
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: `Keys ${mac}`, mac_address: mac, provision } });
    const tooFar = await put('00:15:65:40:00:01', { ...yealink, combo_keys: { '26': { type: 'line' }, '27': { type: 'line' } } });
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.error).toBe('400');
    expect(tooFar.body.message).toBe('validation error');
    expect(tooFar.body.data['provision.combo_keys.27'].maximum).toMatchObject({ target: { model: 'T46S', capacity: 27 } });
    expect(tooFar.body.data['provision.combo_keys.27'].maximum.message).toContain('T46S has 27 line keys');
    expect(tooFar.body.data['provision.combo_keys.26']).toBeUndefined();
    // T46S: up to 6 EXP40 modules of 40 keys each = 240 feature keys (0-based 0..239).
    expect((await put('00:15:65:40:00:02', { ...yealink, feature_keys: { '239': { type: 'speed_dial', value: '1' } } })).status).toBe(201);
    const exp = await put('00:15:65:40:00:03', { ...yealink, feature_keys: { '240': { type: 'speed_dial', value: '1' } } });
    expect(exp.status).toBe(400);
    expect(exp.body.data['provision.feature_keys.240'].maximum).toMatchObject({ target: { model: 'T46S', capacity: 240 } });
    expect((await put('00:15:65:40:00:04', { endpoint_brand: 'yealink', endpoint_model: 'T99Z', combo_keys: { '80': { type: 'line' } } })).status).toBe(201);
  });

  it('a model with a feature-key bank holds that many feature keys, beside its line keys: the 400 names the bank size', async () => {
    const A = t.master.accountId;
    const put = (mac: string, model: string, provision: Record<string, unknown>) =>
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
        data: { name: `Bank ${mac}`, mac_address: mac, provision: { endpoint_brand: 'grandstream', endpoint_model: model, ...provision } },
      });
    const lines = { '0': { type: 'line' }, '1': { type: 'line' }, '2': { type: 'line' } };
    // GXP2130: 3 line keys, 8 multi-purpose keys (0-based 0..7), no module.
    expect((await put('00:0b:82:40:00:01', 'GXP2130', { combo_keys: lines, feature_keys: { '7': { type: 'speed_dial', value: '1' } } })).status).toBe(201);
    const past = await put('00:0b:82:40:00:02', 'GXP2130', { feature_keys: { '8': { type: 'speed_dial', value: '1' } } });
    expect(past.status).toBe(400);
    expect(past.body.data['provision.feature_keys.8'].maximum).toMatchObject({ target: { model: 'GXP2130', capacity: 8 } });
    expect(past.body.data['provision.feature_keys.8'].maximum.message).toContain('GXP2130 has 8 feature keys');
    // GXP2160: 24 multi-purpose keys, then 4 modules of 40.
    expect((await put('00:0b:82:40:00:03', 'GXP2160', { feature_keys: { '183': { type: 'speed_dial', value: '1' } } })).status).toBe(201);
    const beyond = await put('00:0b:82:40:00:04', 'GXP2160', { feature_keys: { '184': { type: 'speed_dial', value: '1' } } });
    expect(beyond.body.data['provision.feature_keys.184'].maximum).toMatchObject({ target: { model: 'GXP2160', capacity: 184 } });
    expect(beyond.body.data['provision.feature_keys.184'].maximum.message).toContain('24 on the phone, 160 on expansion modules');
  });

  it('a Grandstream GXP holds all its VPKs, lines on its fixed ones only: the 400 names the model and its fixed keys', async () => {
    const A = t.master.accountId;
    const put = (mac: string, combo: Record<string, unknown>) =>
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
        data: { name: `VPK ${mac}`, mac_address: mac, provision: { endpoint_brand: 'grandstream', endpoint_model: 'GXP2135', combo_keys: combo } },
      });
    // GXP2135: 8 fixed + 24 dynamic VPKs (0-based 0..31).
    expect((await put('00:0b:82:41:00:01', { '7': { type: 'line' }, '31': { type: 'speed_dial', value: { label: 'L', value: '1' } } })).status).toBe(201);
    const dynamicLine = await put('00:0b:82:41:00:02', { '8': { type: 'line' } });
    expect(dynamicLine.status).toBe(400);
    expect(dynamicLine.body.data['provision.combo_keys.8.type'].invalid).toMatchObject({ target: { model: 'GXP2135', capacity: 8 } });
    expect(dynamicLine.body.data['provision.combo_keys.8.type'].invalid.message).toContain('first 8 keys');
    const past = await put('00:0b:82:41:00:03', { '32': { type: 'speed_dial', value: { label: 'L', value: '1' } } });
    expect(past.body.data['provision.combo_keys.32'].maximum).toMatchObject({ target: { model: 'GXP2135', capacity: 32 } });
  });
});
