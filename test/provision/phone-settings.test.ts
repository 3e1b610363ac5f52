import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, REALM, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { expectValues, readGrandstream, readKeyValue, readPolycom } from './support/readers.js';

/** Settings inheritance, server defaults, firmware, the catalogue's fallback and key placement, over real HTTP. */
const YEALINK_UA = (mac: string) => `Yealink SIP-T46S 66.86.0.15 ${mac.match(/../g)!.join(':')}`;
const POLYCOM_UA = 'FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2aabbcc) Type/Application';
const GS_UA = 'Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b82aabbcc';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function yealinkFile(harness: Harness, mac: string) {
  const res = await harness.get(`${mac}.cfg`, { 'User-Agent': YEALINK_UA(mac) });
  expect(res.status).toBe(200);
  return readKeyValue(res.body);
}

describe('settings: device over account over server default', () => {
  it('each value comes from the nearest document that sets it', async () => {
    h = await startHarness({ env: { SIP_PORT: '15360', SIP_PUBLIC_ADDRESS: '198.51.100.7' } });
    seedFullDevice(h, { id: 'dev-own', mac: '001565000001', brand: 'yealink', model: 'T46S' });
    h.dir.updateDevice('dev-own', {
      provision: { ...h.dir.devices.get('dev-own')!.provision, settings: { sip_server: { transport: 'tcp' }, resync: { interval_minutes: 30 } } },
    });
    seedFullDevice(h, { id: 'dev-acct', mac: '001565000002', brand: 'yealink', model: 'T46S' });
    h.dir.updateAccount(ACCOUNT, {
      provisioning: { settings: { sip_server: { transport: 'tls', port: 5061 }, outbound_proxy: 'sbc.example.com:5080', resync: { window: { start: '02:00', end: '04:00' } } } },
    });

    const own = await yealinkFile(h, '001565000001');
    expectValues(own, {
      'account.1.sip_server.1.transport_type': '1', // device: tcp
      'account.1.sip_server.1.port': '5061', // account
      'account.1.outbound_proxy.1.address': 'sbc.example.com', // account
      'account.1.outbound_proxy.1.port': '5080',
      'static.auto_provision.repeat.minutes': '30', // device's interval over the account's window
    });
    expect(own.has('static.auto_provision.weekly.enable')).toBe(false);
    const acct = await yealinkFile(h, '001565000002');
    expectValues(acct, {
      'account.1.sip_server.1.transport_type': '2', // account: tls
      'static.auto_provision.weekly.enable': '1',
      'static.auto_provision.weekly.begin_time': '02:00',
      'static.auto_provision.weekly.end_time': '04:00',
    });
  });

  it('without settings: the embedded registrar at SIP_PUBLIC_ADDRESS and SIP_PORT, never a fixed 5060', async () => {
    h = await startHarness({ env: { SIP_PORT: '15360', SIP_PUBLIC_ADDRESS: '198.51.100.7' } });
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcc', brand: 'yealink', model: 'T46S' });
    seedFullDevice(h, { id: 'dp', mac: '0004f2aabbcc' });
    seedFullDevice(h, { id: 'dg', mac: '000b82aabbcc' });
    expectValues(await yealinkFile(h, '001565aabbcc'), {
      'account.1.sip_server.1.address': REALM, // the realm names the account at the registrar
      'account.1.sip_server.1.port': '15360',
      'account.1.sip_server.1.transport_type': '0',
      'account.1.outbound_proxy_enable': '1',
      'account.1.outbound_proxy.1.address': '198.51.100.7',
      'account.1.outbound_proxy.1.port': '15360',
      'static.auto_provision.repeat.minutes': '1440',
    });
    const p = (await readPolycom((await h.get('0004f2aabbcc-user.cfg', { 'User-Agent': POLYCOM_UA })).body)).params;
    expectValues(p, { 'reg.1.server.1.port': '15360', 'reg.1.server.1.transport': 'UDPOnly', 'reg.1.outboundProxy.address': '198.51.100.7', 'reg.1.outboundProxy.port': '15360' });
    const g = (await readGrandstream((await h.get('cfg000b82aabbcc.xml', { 'User-Agent': GS_UA })).body)).p;
    expectValues(g, { P47: `${REALM}:15360`, P48: '198.51.100.7:15360', P130: '0' });
  });

  it('without SIP_PUBLIC_ADDRESS the proxy is the Host the phone fetched from; the provisioning URL too', async () => {
    h = await startHarness({ env: { SIP_PORT: '15999' } });
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcc', brand: 'yealink', model: 'T46S' });
    const res = await h.get('001565aabbcc.cfg', { 'User-Agent': YEALINK_UA('001565aabbcc'), Host: 'phones.example.net:8000' });
    expectValues(readKeyValue(res.body), {
      'account.1.outbound_proxy.1.address': 'phones.example.net',
      'account.1.outbound_proxy.1.port': '15999',
      'static.auto_provision.server.url': 'http://phones.example.net:8000/provision/',
    });
    // Another Host renders anew (the render cache keys on it), not the first Host's file.
    const other = await h.get('001565aabbcc.cfg', { 'User-Agent': YEALINK_UA('001565aabbcc'), Host: 'other.example.net' });
    expect(readKeyValue(other.body).get('static.auto_provision.server.url')).toBe('http://other.example.net/provision/');
  });

  it('PROVISION_BASE_URL and the URL key; the account\'s HTTP auth as the phone-side credentials', async () => {
    h = await startHarness({ env: { PROVISION_BASE_URL: 'https://prov.example.com/provision/' } });
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcc', brand: 'yealink', model: 'T46S' });
    h.dir.updateAccount(ACCOUNT, { provisioning: { url_key: 'k3y-0123456789abcdef', http_auth: { type: 'basic', username: 'phones', password: 'Prov-Secret-1' } } });
    const res = await h.get('k3y-0123456789abcdef/001565aabbcc.cfg', {
      'User-Agent': YEALINK_UA('001565aabbcc'),
      Authorization: `Basic ${Buffer.from('phones:Prov-Secret-1').toString('base64')}`,
    });
    expect(res.status).toBe(200);
    expectValues(readKeyValue(res.body), {
      'static.auto_provision.server.url': 'https://prov.example.com/provision/k3y-0123456789abcdef/',
      'static.auto_provision.server.username': 'phones',
      'static.auto_provision.server.password': 'Prov-Secret-1',
    });
  });
});

describe('firmware under DATA_DIR/firmware/', () => {
  it('is named in the Polycom master only when the file exists, then served; never a config name or a path', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dp', mac: '0004f2aabbcc' });
    const master = async () => (await readPolycom((await h!.get('0004f2aabbcc.cfg', { 'User-Agent': POLYCOM_UA })).body)).params.get('APP_FILE_PATH');
    const defaultMaster = async () => (await readPolycom((await h!.get('000000000000.cfg', { 'User-Agent': POLYCOM_UA })).body)).params.get('APP_FILE_PATH');
    expect(await master()).toBe('');
    expect(await defaultMaster()).toBe('');
    expect((await h.get('sip.ld')).status).toBe(404);

    const dir = path.join(h.dataDir, 'firmware');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'sip.ld'), 'FIRMWARE-IMAGE');
    writeFileSync(path.join(dir, '0004f2aabbcc.cfg'), 'NOT A CONFIG'); // a config name is never taken from here
    h.clock.now += 2000; // the listing is re-read once a second
    expect(await master()).toBe('sip.ld');
    expect(await defaultMaster()).toBe('sip.ld');
    const fw = await h.get('sip.ld', { 'User-Agent': POLYCOM_UA });
    expect(fw.status).toBe(200);
    expect(fw.headers['content-type']).toBe('application/octet-stream');
    expect(fw.body).toBe('FIRMWARE-IMAGE');
    expect((await h.get('0004f2aabbcc.cfg', { 'User-Agent': POLYCOM_UA })).body).not.toContain('NOT A CONFIG');
    for (const bad of ['..%2ffirmware%2fsip.ld', '%2e%2e%2fsip.ld', 'firmware%2fsip.ld', '.sip.ld', 'sip.ld%00', 'SIP.LD']) {
      expect((await h.get(bad)).status, bad).toBe(404);
    }
  });
});

describe('model catalogue', () => {
  it('an unknown model of a known family falls back to the family, and _read_only says so', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'known', mac: '001565000001', brand: 'yealink', model: 'T46S' });
    seedFullDevice(h, { id: 'unknown', mac: '001565000002', brand: 'yealink', model: 'T49X' });
    seedFullDevice(h, { id: 'nofamily', mac: '001565000003', brand: 'yealink', model: 'ZZ9' });
    expect(h.service.describe(ACCOUNT, 'known')).toMatchObject({ model: 'T46S', model_known: true, family: 't4x' });
    expect(h.service.describe(ACCOUNT, 'known')).not.toHaveProperty('fallback_family');
    expect(h.service.describe(ACCOUNT, 'unknown')).toMatchObject({ model: 'T49X', model_known: false, fallback_family: 't4x' });
    expect(h.service.describe(ACCOUNT, 'nofamily')).toMatchObject({ model: 'ZZ9', model_known: false });
    expect(h.service.describe(ACCOUNT, 'nofamily')).not.toHaveProperty('fallback_family');
  });

  it('feature keys go to expansion modules only on models that have one; indices are kept', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'exp', mac: '001565000001', brand: 'yealink', model: 'T46S' });
    seedFullDevice(h, { id: 'noexp', mac: '001565000002', brand: 'yealink', model: 'T42S' });
    for (const id of ['exp', 'noexp']) {
      const d = h.dir.devices.get(id)!;
      h.dir.updateDevice(id, {
        provision: {
          ...d.provision,
          combo_keys: { '0': { type: 'line' }, '5': { type: 'speed_dial', value: '2000' } },
          feature_keys: { '0': { type: 'speed_dial', value: '5551234' }, '7': { type: 'speed_dial', value: '5559999' }, '44': { type: 'speed_dial', value: '5554444' } },
        },
      });
    }
    const exp = await yealinkFile(h, '001565000001');
    expectValues(exp, {
      'linekey.1.type': '15',
      'linekey.6.value': '2000', // index 5 stays slot 6: no compaction
      'expansion_module.1.key.1.value': '5551234',
      'expansion_module.1.key.8.value': '5559999',
      'expansion_module.2.key.5.value': '5554444', // 40 keys a module: key 45 is the 5th of module 2
    });
    expect(exp.has('linekey.2.type')).toBe(false);
    const noexp = await yealinkFile(h, '001565000002');
    expect([...noexp.keys()].some((k) => k.startsWith('expansion_module.'))).toBe(false);
    // Without a module, feature keys take the body slot their index names, unless a combo key holds it.
    expectValues(noexp, { 'linekey.1.type': '15', 'linekey.8.value': '5559999', 'linekey.6.value': '2000' });
  });
});
