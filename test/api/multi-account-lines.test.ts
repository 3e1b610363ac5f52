import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectValues, readKeyValue } from '../provision/support/readers.js';
import { productionParts } from '../../src/parts.js';

/**
 * One SIP account per handset / port: a DECT base's device lists other devices of the account (no MAC) in
 * provision.lines; its file carries each one's SIP identity in the slot the index names. Through /v2, fetched with
 * the base's real User-Agent, parsed back key by key.
 */
let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const w60b = { endpoint_brand: 'yealink', endpoint_family: 'wdect', endpoint_model: 'W60B' };
const BASE_MAC = '001565600a01';
const ua = `Yealink W60B 77.83.0.85 ${BASE_MAC.match(/../g)!.join(':')}`;
const A = () => t.master.accountId;

beforeAll(async () => {
  t = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'none', SIP_PORT: '5070' } });
});
afterAll(() => t.close());

async function put(data: Record<string, unknown>) {
  return t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data });
}
async function baseFile() {
  const res = await t.http().get(`/provision/${BASE_MAC}.cfg`).set('User-Agent', ua);
  expect(res.status, res.text).toBe(200);
  return readKeyValue(res.text);
}

describe('provision.lines on a Yealink W60B', () => {
  let baseId = '';
  let h2 = '';
  let h3 = '';

  it('puts each referenced device in its slot: account N on handset N, own credentials, the base\'s server', async () => {
    h2 = (await put({ name: 'Handset Two', caller_id: { internal: { name: 'Kitchen' } }, sip: { username: 'hs2', password: 'hs2-pass-A1' } })).body.data.id;
    h3 = (await put({ name: 'Handset Five', sip: { username: 'hs5', password: 'hs5-pass-B2', expire_seconds: 900 } })).body.data.id;
    const base = await put({
      name: 'Base',
      mac_address: BASE_MAC,
      sip: { username: 'hs1', password: 'hs1-pass-C3' },
      provision: { ...w60b, settings: { sip_server: { host: 'sip.example.net', port: 5070, transport: 'tcp' } }, lines: { '1': { device_id: h2 }, '4': { device_id: h3 } } },
    });
    expect(base.status, JSON.stringify(base.body)).toBe(201);
    baseId = base.body.data.id;
    expect(base.body.data.provision.lines).toEqual({ '1': { device_id: h2 }, '4': { device_id: h3 } });

    const kv = await baseFile();
    expectValues(kv, {
      'account.1.user_name': 'hs1',
      'account.1.password': 'hs1-pass-C3',
      'account.2.enable': '1',
      'account.2.user_name': 'hs2',
      'account.2.auth_name': 'hs2',
      'account.2.password': 'hs2-pass-A1',
      'account.2.display_name': 'Kitchen',
      'account.2.sip_server.1.address': 'sip.example.net',
      'account.2.sip_server.1.port': '5070',
      'account.2.sip_server.1.transport_type': '1',
      'handset.2.incoming_lines': '2',
      'handset.2.dial_out_lines': '2',
      'handset.2.dial_out_default_line': '2',
      'account.5.user_name': 'hs5',
      'account.5.password': 'hs5-pass-B2',
      'account.5.display_name': 'Handset Five',
      'account.5.sip_server.1.expires': '900',
      'handset.5.incoming_lines': '5',
    });
    // Slots are not compacted: nothing lands in accounts 3 and 4.
    expect(kv.has('account.3.user_name')).toBe(false);
    expect(kv.has('account.4.user_name')).toBe(false);
  });

  it('a change of a referenced device reaches the base\'s file; its removal empties the slot', async () => {
    const patch = await t.http().patch(`/v2/accounts/${A()}/devices/${h2}`).set(auth()).send({ data: { sip: { password: 'hs2-pass-NEW9' } } });
    expect(patch.status).toBe(200);
    expect((await baseFile()).get('account.2.password')).toBe('hs2-pass-NEW9');

    await t.http().delete(`/v2/accounts/${A()}/devices/${h3}`).set(auth()).expect(200);
    const kv = await baseFile();
    expect(kv.has('account.5.user_name')).toBe(false);
    expect(kv.get('account.2.user_name')).toBe('hs2');
    const base = await t.http().get(`/v2/accounts/${A()}/devices/${baseId}`).set(auth());
    expect(base.body.data.provision.lines).toEqual({ '1': { device_id: h2 } });
  });

  it('refuses, in Kazoo\'s envelope naming the field: a slot beyond the model, a device with a MAC, a missing device, a line of two phones, slot 0', async () => {
    const beyond = await t.http().patch(`/v2/accounts/${A()}/devices/${baseId}`).set(auth()).send({ data: { provision: { lines: { '8': { device_id: h2 } } } } });
    expect(beyond.status).toBe(400);
    expect(beyond.body.data['provision.lines.8'].maximum).toMatchObject({ target: { model: 'W60B', capacity: 8 } });

    const desk = await put({ name: 'Desk', mac_address: '001565460a02', sip: { username: 'desk9', password: 'desk9-pass' }, provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S' } });
    const withMac = await t.http().patch(`/v2/accounts/${A()}/devices/${baseId}`).set(auth()).send({ data: { provision: { lines: { '2': { device_id: desk.body.data.id } } } } });
    expect(withMac.status).toBe(400);
    expect(withMac.body.data).toHaveProperty(['provision.lines.2.device_id', 'invalid']);

    const missing = await t.http().patch(`/v2/accounts/${A()}/devices/${baseId}`).set(auth()).send({ data: { provision: { lines: { '2': { device_id: 'nope' } } } } });
    expect(missing.body.data).toHaveProperty(['provision.lines.2.device_id', 'not_found']);

    const other = await put({ name: 'Base 2', mac_address: '001565600a03', provision: { ...w60b, lines: { '1': { device_id: h2 } } } });
    expect(other.status).toBe(400);
    expect(other.body.data).toHaveProperty(['provision.lines.1.device_id', 'unique']);

    const zero = await t.http().patch(`/v2/accounts/${A()}/devices/${baseId}`).set(auth()).send({ data: { provision: { lines: { '0': { device_id: h2 } } } } });
    expect(zero.status).toBe(400);
    expect(Object.keys(zero.body.data).join()).toContain('provision.lines');

    // A device that is a line may not become a phone of its own while it is one.
    const gainsMac = await t.http().patch(`/v2/accounts/${A()}/devices/${h2}`).set(auth()).send({ data: { mac_address: '001565600a04' } });
    expect(gainsMac.status).toBe(400);
    expect(gainsMac.body.data).toHaveProperty(['mac_address', 'invalid']);
  });
});
