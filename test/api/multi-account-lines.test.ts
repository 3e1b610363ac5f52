import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectValues, readGrandstreamStrict, readKeyValue } from '../provision/support/readers.js';
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

    // A desk phone's file has no place for them (its key layout would have to carry them): refused, naming the kind.
    const deskLines = await put({ name: 'Desk 2', mac_address: '001565460a05', provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S', lines: { '1': { device_id: h2 } } } });
    expect(deskLines.status).toBe(400);
    expect(deskLines.body.data['provision.lines'].invalid).toMatchObject({ target: { model: 'T46S', kind: 'desk' } });
    expect(deskLines.body.data['provision.lines'].invalid.message).toContain('DECT bases and ATAs only');

    // A device that is a line may not become a phone of its own while it is one.
    const gainsMac = await t.http().patch(`/v2/accounts/${A()}/devices/${h2}`).set(auth()).send({ data: { mac_address: '001565600a04' } });
    expect(gainsMac.status).toBe(400);
    expect(gainsMac.body.data).toHaveProperty(['mac_address', 'invalid']);
  });
});

/** Grandstream: the same provision.lines, written where Grandstream's own config template of each family puts them. */
describe('provision.lines on Grandstream DP750, HT802 and HT814', () => {
  const gsUa = (model: string, mac: string) => `Grandstream Model HW ${model} SW 1.0.13.8 DevId ${mac}`;
  async function gsFile(model: string, mac: string) {
    const res = await t.http().get(`/provision/cfg${mac}.xml`).set('User-Agent', gsUa(model, mac));
    expect(res.status, res.text).toBe(200);
    return readGrandstreamStrict(res.text);
  }
  const gs = (model: string) => ({ endpoint_brand: 'grandstream', endpoint_model: model });
  const line = async (name: string, username: string, password: string) =>
    (await put({ name, sip: { username, password } })).body.data.id as string;

  it('DP750: account N in the base\'s table (P4060+ … P4595+), on handset N; other accounts empty and off', async () => {
    const l2 = await line('Lobby', 'dp2', 'dp2-pass-D4');
    const l5 = await line('Store', 'dp5', 'dp5-pass-E5');
    const l8 = await line('Yard', 'dp8', 'dp8-pass-F6');
    const base = await put({
      name: 'DECT Base', mac_address: '000b82750001', sip: { username: 'dp1', password: 'dp1-pass-G7' },
      provision: { ...gs('DP750'), lines: { '1': { device_id: l2 }, '4': { device_id: l5 }, '7': { device_id: l8 } } },
    });
    expect(base.status, JSON.stringify(base.body)).toBe(201);
    const p = await gsFile('DP750', '000b82750001');
    expectValues(p, {
      P4060: 'dp1', P4090: 'dp1', P4120: 'dp1-pass-G7', P4180: 'DECT Base', P4595: '1', P4150: '0',
      P4061: 'dp2', P4091: 'dp2', P4121: 'dp2-pass-D4', P4181: 'Lobby', P4596: '1', P4151: '0',
      P4064: 'dp5', P4124: 'dp5-pass-E5', P4184: 'Store', P4599: '1',
      P4067: 'dp8', P4127: 'dp8-pass-F6', P4602: '1',
      // Slots are not compacted: account 3 (slot 2) is empty and inactive.
      P4062: '', P4122: '', P4597: '0',
      // Handset 2 and 5 have their own account; handsets 3 and 4 keep account 1; account 8 has no handset.
      P4300: '1', P4310: '2', P4320: '1', P4250: '1', P21328: '5',
      P27080: '1', P27081: '2', P27082: '101', P27084: '5', P27087: '101',
    });
    for (const absent of ['P35', 'P36', 'P34', 'P3', 'P4070', 'P4605']) expect(p.has(absent), absent).toBe(false);

    // A removed line empties its account (the base would otherwise keep it registered) and frees its handset.
    await t.http().delete(`/v2/accounts/${A()}/devices/${l5}`).set(auth()).expect(200);
    expectValues(await gsFile('DP750', '000b82750001'), { P4064: '', P4124: '', P4599: '0', P21328: '1', P27084: '101', P4061: 'dp2' });

    const beyond = await t.http().patch(`/v2/accounts/${A()}/devices/${base.body.data.id}`).set(auth()).send({ data: { provision: { lines: { '10': { device_id: l2 } } } } });
    expect(beyond.status).toBe(400);
    expect(beyond.body.data['provision.lines.10'].maximum).toMatchObject({ target: { model: 'DP750', capacity: 10 } });
  });

  it('HT802: port 2 in its own profile block (P401, P747, P735/P736/P734/P703…), the same server and settings', async () => {
    const l2 = await line('Fax', 'ht2', 'ht2-pass-H8');
    const ata = await put({
      name: 'Front ATA', mac_address: '000b82802001', sip: { username: 'ht1', password: 'ht1-pass-J9' },
      provision: { ...gs('HT802'), settings: { sip_server: { host: 'sip.example.net', port: 5070, transport: 'tcp' } }, lines: { '1': { device_id: l2 } } },
    });
    expect(ata.status, JSON.stringify(ata.body)).toBe(201);
    const p = await gsFile('HT802', '000b82802001');
    expectValues(p, {
      P35: 'ht1', P34: 'ht1-pass-J9', P47: 'sip.example.net:5070', P130: '1',
      P401: '1', P747: 'sip.example.net:5070', P830: '1', P735: 'ht2', P736: 'ht2', P734: 'ht2-pass-H8', P703: 'Fax', P731: '1',
      P732: p.get('P32')!, P471: p.get('P138')!, P730: p.get('P52')!, P757: p.get('P57')!, P814: p.get('P46')!, P860: p.get('P850')!,
    });
    expect(p.has('P4060')).toBe(false);
    const beyond = await t.http().patch(`/v2/accounts/${A()}/devices/${ata.body.data.id}`).set(auth()).send({ data: { provision: { lines: { '2': { device_id: l2 } } } } });
    expect(beyond.status).toBe(400);
    expect(beyond.body.data['provision.lines.2'].maximum).toMatchObject({ target: { model: 'HT802', capacity: 2 } });
  });

  it('HT814: ports 1-4 in the account table, none at P35 or in a second profile', async () => {
    const l3 = await line('Port Three', 'ht43', 'ht43-pass-K1');
    const ata = await put({
      name: 'Back ATA', mac_address: '000b82814001', sip: { username: 'ht41', password: 'ht41-pass-L2' },
      provision: { ...gs('HT814'), lines: { '2': { device_id: l3 } } },
    });
    expect(ata.status, JSON.stringify(ata.body)).toBe(201);
    const p = await gsFile('HT814', '000b82814001');
    expectValues(p, {
      P4060: 'ht41', P4120: 'ht41-pass-L2', P4595: '1', P4061: '', P4596: '0',
      P4062: 'ht43', P4092: 'ht43', P4122: 'ht43-pass-K1', P4182: 'Port Three', P4597: '1', P4063: '', P4598: '0',
    });
    for (const absent of ['P35', 'P34', 'P401', 'P735', 'P4064', 'P4300', 'P27080']) expect(p.has(absent), absent).toBe(false);
  });
});
