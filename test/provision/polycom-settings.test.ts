import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { expectValues, readPolycom, readPolycomPairs } from './support/readers.js';

/**
 * Polycom per family (VVX, SoundPoint IP, SoundStation IP, Trio): a device with every phone setting, fetched over HTTP
 * with that family's real User-Agent, parsed back with xml2js and checked key by key; the §3 files (contact
 * directory, uploads) and the §4 fixes (device.set, info= ring rules, key slots, Park label).
 */
const MAC = '0004f2aabbcc';
const UAS = {
  VVX400: `FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:${MAC}) Type/Application`,
  SPIP335: `FileTransport PolycomSoundPointIP-SPIP_335-UA/4.0.15.1009 (SN:${MAC}) Type/Application`,
  SSIP6000: `FileTransport PolycomSoundStationIP-SSIP_6000-UA/4.0.15.1009 (SN:${MAC}) Type/Application`,
  TRIO8800: `FileTransport PolycomRealPresenceTrio-Trio_8800-UA/5.9.2.7727 (SN:${MAC}) Type/Application`,
} as const;
const AUTH = { Authorization: `Basic ${Buffer.from('phones:Prov-Secret-1').toString('base64')}` };

/** Slot → [category, address, type, label]: the k-th BLF slot (in slot order) shows resource-list entry k. */
function keyAt(p: Map<string, string>, slot: number) {
  const blf = [...p.entries()].filter(([k, v]) => /^lineKey\.\d+\.category$/.test(k) && v === 'BLF').map(([k]) => Number(k.split('.')[1])).sort((a, b) => a - b);
  const n = blf.indexOf(slot) + 1;
  return [p.get(`lineKey.${slot}.category`), p.get(`attendant.resourceList.${n}.address`), p.get(`attendant.resourceList.${n}.type`), p.get(`attendant.resourceList.${n}.label`)];
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A device with every setting of issue 9 §2 set on it (and the account's HTTP auth for the phone-side credentials). */
function seedEverything(harness: Harness, id = 'dp') {
  seedFullDevice(harness, { id, mac: MAC });
  const d = harness.dir.devices.get(id)!;
  harness.dir.updateDevice(id, {
    sip: { ...d.sip, realm: 'device-realm.example.com' },
    media: { ...d.media, encryption: { methods: ['srtp'], enforce_security: true } },
    call_waiting: { enabled: false },
    do_not_disturb: { enabled: true },
    call_forward: { enabled: true, number: '5557777', failover: true },
    provision: {
      ...d.provision,
      settings: {
        sip_server: { host: 'sip.example.net', port: 5070, transport: 'tls' },
        outbound_proxy: 'sbc.example.net:5080',
        nat_keepalive_seconds: 25,
        registration_retry_seconds: 45,
        dtmf_mode: 'info',
        dial_plan: '[2-9]xxxxxxxxx|*xx|xxxx',
        resync: { window: { start: '02:00', end: '04:30' } },
        admin_password: 'Admin-Pass-77',
        user_password: 'User-Pass-55',
        ntp_server: 'ntp.example.net',
        syslog_server: 'logs.example.net',
        vlan: { id: 42, priority: 5 },
      },
    },
  } as never);
  harness.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type: 'basic', username: 'phones', password: 'Prov-Secret-1' } } } as never);
}

async function userFile(harness: Harness, ua: string) {
  const res = await harness.get(`${MAC}-user.cfg`, { 'User-Agent': ua, ...AUTH });
  expect(res.status).toBe(200);
  return { body: res.body, params: (await readPolycom(res.body)).params };
}

/** The settings every family writes the same way. */
const COMMON_SETTINGS = {
  'reg.1.address': 'user_1001@device-realm.example.com', // device sip.realm over the account realm
  'reg.1.auth.userId': 'user_1001',
  'reg.1.auth.password': 's3cret!',
  'reg.1.server.1.address': 'sip.example.net',
  'reg.1.server.1.port': '5070',
  'reg.1.server.1.transport': 'TLS',
  'reg.1.server.1.expires': '600',
  'reg.1.server.1.registerRetry.baseTimeOut': '45',
  'reg.1.outboundProxy.address': 'sbc.example.net',
  'reg.1.outboundProxy.port': '5080',
  'reg.1.outboundProxy.transport': 'TLS',
  'nat.keepalive.interval': '25',
  'tone.dtmf.viaRtp': '0',
  'tone.dtmf.rfc2833Control': '0',
  'voIpProt.SIP.dtmfViaSignaling.rfc2976': '1',
  'sec.srtp.enable': '1',
  'sec.srtp.offer': '1',
  'sec.srtp.require': '1',
  'call.callWaiting.enable': '0',
  'divert.dnd.1.enabled': '1',
  'divert.1.contact': '5557777',
  'divert.fwd.1.enabled': '0', // failover: forward on busy / no answer only
  'divert.busy.1.enabled': '1',
  'divert.busy.1.contact': '5557777',
  'divert.noanswer.1.enabled': '1',
  'divert.noanswer.1.contact': '5557777',
  'dialplan.digitmap': '[2-9]xxxxxxxxx|*xx|xxxx',
  'prov.polling.enabled': '1',
  'prov.polling.mode': 'random',
  'prov.polling.period': '86400',
  'prov.polling.time': '02:00',
  'prov.polling.timeRandomEnd': '04:30',
  'device.set': '1',
  'device.prov.serverType.set': '1',
  'device.prov.serverType': 'HTTP',
  'device.prov.serverName.set': '1',
  'device.prov.user.set': '1',
  'device.prov.user': 'phones',
  'device.prov.password.set': '1',
  'device.prov.password': 'Prov-Secret-1',
  'device.auth.localAdminPassword.set': '1',
  'device.auth.localAdminPassword': 'Admin-Pass-77',
  'device.auth.localUserPassword.set': '1',
  'device.auth.localUserPassword': 'User-Pass-55',
  'tcpIpApp.sntp.address': 'ntp.example.net',
  'tcpIpApp.sntp.address.overrideDHCP': '1',
  'device.syslog.serverName.set': '1',
  'device.syslog.serverName': 'logs.example.net',
  'device.syslog.transport': '1',
  'device.net.vlanId.set': '1',
  'device.net.vlanId': '42',
  'voIpProt.SIP.alertInfo.1.value': 'ring2', // the info= token, not the raw header
  'voIpProt.SIP.alertInfo.2.value': 'ring3',
  'voIpProt.SIP.alertInfo.3.value': 'autoanswer',
  'voIpProt.SIP.alertInfo.3.class': 'autoAnswer',
  'lcl.ml.lang': 'French_Canada',
  'tcpIpApp.sntp.gmtOffset': '-18000',
};

describe('Polycom: every setting, per family, over HTTP with the real User-Agent', () => {
  for (const [model, family, kind] of [['VVX400', 'vvx', 'desk'], ['SPIP335', 'spip', 'desk'], ['SSIP6000', 'ssip', 'conference'], ['TRIO8800', 'trio', 'conference']] as const) {
    it(`${model} (${family})`, async () => {
      h = await startHarness();
      seedEverything(h);
      const { params } = await userFile(h, UAS[model]);
      expectValues(params, COMMON_SETTINGS);
      expect(params.get('device.prov.serverName')).toMatch(/^127\.0\.0\.1:\d+\/provision\/$/); // host/path, scheme apart
      expect(h.service.describe(ACCOUNT, 'dp')).toMatchObject({ model, model_known: true, family });
      if (kind === 'conference') {
        // No line keys on a conference phone: no layout, no resource list.
        expect([...params.keys()].some((k) => k.startsWith('lineKey.') || k.startsWith('attendant.resourceList.'))).toBe(false);
      } else {
        expectValues(params, { 'lineKey.reassignment.enabled': '1', 'lineKey.1.category': 'Line', 'lineKey.2.category': 'BLF' });
      }
      const master = await readPolycom((await h.get(`${MAC}.cfg`, { 'User-Agent': UAS[model], ...AUTH })).body);
      expect(master.params.get('CONFIG_FILES')).toBe(`${MAC}-user.cfg`);
    });
  }

  it('an interval resync is relative polling in seconds; DNS SRV leaves the port to the SRV record; no auth, no prov credentials', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dp', mac: MAC });
    const d = h.dir.devices.get('dp')!;
    h.dir.updateDevice('dp', { provision: { ...d.provision, settings: { sip_server: { transport: 'dns_srv' }, resync: { interval_minutes: 30 }, dtmf_mode: 'inband' } } } as never);
    const { params } = await userFile(h, UAS.VVX400);
    expectValues(params, {
      'reg.1.server.1.transport': 'DNSnaptr',
      'reg.1.server.1.port': '0',
      'prov.polling.mode': 'rel',
      'prov.polling.period': '1800',
      'tone.dtmf.viaRtp': '1',
      'tone.dtmf.rfc2833Control': '0',
      'sec.srtp.enable': '0',
      'call.callWaiting.enable': '1',
      'divert.fwd.1.enabled': '0',
      'divert.dnd.1.enabled': '0',
    });
    for (const absent of ['prov.polling.time', 'device.prov.user', 'device.prov.password', 'dialplan.digitmap', 'device.net.vlanId']) expect(params.has(absent), absent).toBe(false);
  });

  it('an unconditional forward switches divert.fwd on', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dp', mac: MAC });
    h.dir.updateDevice('dp', { call_forward: { enabled: true, number: '5558888' } } as never);
    expectValues((await userFile(h, UAS.VVX400)).params, { 'divert.fwd.1.enabled': '1', 'divert.1.contact': '5558888', 'divert.busy.1.enabled': '0' });
  });

  it('no parameter is written twice (two keys, or a key and a ring rule, never share one)', async () => {
    h = await startHarness();
    seedEverything(h);
    const d = h.dir.devices.get('dp')!;
    // Feature keys whose indices meet the combo keys' and run onto a second module.
    h.dir.updateDevice('dp', { provision: { ...d.provision, feature_keys: { ...d.provision!.feature_keys, '4': { type: 'speed_dial', value: '777' }, '40': { type: 'parking', value: '5' } } } } as never);
    for (const ua of Object.values(UAS)) {
      const res = await h.get(`${MAC}-user.cfg`, { 'User-Agent': ua, ...AUTH });
      const seen = new Map<string, string>();
      await readPolycom(res.body); // well-formed
      for (const [name, value] of readPolycomPairs(res.body)) {
        expect(seen.has(name), `${name} written twice (${seen.get(name)} / ${value})`).toBe(false);
        seen.set(name, value);
      }
      expect(seen.size).toBeGreaterThan(60);
    }
  });
});

describe('Polycom keys (§4): the slot the Kazoo index names, "Park " on personal park', () => {
  it('combo keys keep their body slot with gaps kept; feature keys go to the expansion module after the body keys', async () => {
    h = await startHarness();
    h.dir.addUser(ACCOUNT, { id: 'ubob', first_name: 'Bob', presence_id: '1002' });
    h.dir.addDevice(ACCOUNT, {
      id: 'dp', name: 'd', mac_address: MAC, sip: { username: 'u1', password: 'p1' },
      provision: {
        combo_keys: { '0': { type: 'line' }, '3': { type: 'personal_parking', value: 'ubob' } },
        feature_keys: { '1': { type: 'speed_dial', value: '5551234' }, '29': { type: 'presence', value: 'ubob' } },
      },
    } as never);
    const { params: p } = await userFile(h, UAS.VVX400); // 12 body keys, Color EM of 28 keys
    const at = (slot: number) => keyAt(p, slot).filter((_, i) => i !== 2);
    expect(at(4)).toEqual(['BLF', '*31002', 'Park Bob']); // index 3 -> slot 4, not compacted to 2
    expectValues(p, { 'lineKey.1.category': 'Line', 'lineKey.2.category': 'Unassigned', 'lineKey.3.category': 'Unassigned' });
    expect(at(14)).toEqual(['BLF', '5551234', '5551234']); // module 1 key 2 = slot 12 + 2
    expect(at(42)).toEqual(['BLF', '1002', 'Bob']); // key 30 = module 2 key 2 = slot 12 + 28 + 2
  });

  it('without an expansion module feature keys take the body slot their index names', async () => {
    h = await startHarness();
    h.dir.addDevice(ACCOUNT, {
      id: 'dp', name: 'd', mac_address: MAC, sip: { username: 'u1', password: 'p1' },
      provision: { combo_keys: { '0': { type: 'line' } }, feature_keys: { '1': { type: 'speed_dial', value: '5551234' } } },
    } as never);
    const { params: p } = await userFile(h, UAS.SPIP335);
    expectValues(p, { 'lineKey.2.category': 'BLF', 'lineKey.2.index': '0', 'attendant.resourceList.1.address': '5551234' });
  });
});

describe('Polycom catalogue and firmware', () => {
  it('reads model and MAC from every family\'s User-Agent form', async () => {
    const { polycom } = await import('../../vendors/polycom.js');
    for (const [ua, model, mac] of [
      [UAS.TRIO8800, 'TRIO8800', MAC],
      ['Polycom/5.4.3.2007 PolycomRealPresenceTrio-Trio_C60-UA/5.4.3.2007', 'TRIOC60', undefined],
      [UAS.SSIP6000, 'SSIP6000', MAC],
      ['FileTransport PolycomVVX-VVX_310-UA/4.1.4.7430_0004f2abcdef Type/Application', 'VVX310', '0004f2abcdef'],
    ] as const) expect(polycom.parseUserAgent(ua), ua).toEqual({ model, mac });
  });

  it('covers the issue\'s models with their key counts, modules and accounts; an unknown model falls back to its family', async () => {
    const { polycom } = await import('../../vendors/polycom.js');
    const byModel = new Map(polycom.catalogue!.map((m) => [m.model, m]));
    for (const m of ['SPIP321', 'SPIP331', 'SPIP335', 'SPIP450', 'SPIP550', 'SPIP560', 'SPIP650', 'SPIP670', 'SSIP5000', 'SSIP6000', 'SSIP7000',
      'VVX101', 'VVX150', 'VVX201', 'VVX250', 'VVX300', 'VVX301', 'VVX310', 'VVX311', 'VVX350', 'VVX400', 'VVX401', 'VVX410', 'VVX411',
      'VVX450', 'VVX500', 'VVX501', 'VVX600', 'VVX601', 'VVX1500', 'TRIO8300', 'TRIO8500', 'TRIO8800', 'TRIOC60']) expect(byModel.has(m), m).toBe(true);
    expect(byModel.get('VVX600')).toMatchObject({ lineKeys: 16, expansion: { modules: 3, keysEach: 28 }, firmware: '3111-44600-001.sip.ld' });
    expect(byModel.get('VVX450')).toMatchObject({ lineKeys: 12, expansion: { modules: 3, keysEach: 30 } });
    expect(byModel.get('VVX101')).not.toHaveProperty('expansion');
    expect(byModel.get('TRIO8800')).toMatchObject({ kind: 'conference', lineKeys: 0, firmware: '3111-65290-001.sip.ld' });
    expect(byModel.get('SSIP7000')).toMatchObject({ kind: 'conference', family: 'ssip' });

    h = await startHarness();
    seedFullDevice(h, { id: 'dx', mac: MAC });
    await h.get(`${MAC}-user.cfg`, { 'User-Agent': UAS.VVX400 });
    h.dir.addDevice(ACCOUNT, { id: 'dt', name: 't', mac_address: '0004f2000002', provision: { endpoint_brand: 'polycom', endpoint_model: 'TRIO9900' } } as never);
    expect(h.service.describe(ACCOUNT, 'dt')).toMatchObject({ model: 'TRIO9900', model_known: false, fallback_family: 'trio' });
  });

  it('a model names its own part-number image, else the combined sip.ld; the default master never names a part image', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dp', mac: MAC });
    const app = async (file: string, ua: string) => (await readPolycom((await h!.get(file, { 'User-Agent': ua })).body)).params.get('APP_FILE_PATH');
    const dir = path.join(h.dataDir, 'firmware');
    mkdirSync(dir);
    writeFileSync(path.join(dir, '3111-46157-002.sip.ld'), 'VVX400-IMAGE');
    h.clock.now += 2000;
    expect(await app(`${MAC}.cfg`, UAS.VVX400)).toBe('3111-46157-002.sip.ld');
    expect(await app('000000000000.cfg', UAS.VVX400)).toBe(''); // one model's image must not reach every model
    writeFileSync(path.join(dir, 'sip.ld'), 'COMBINED');
    h.clock.now += 2000;
    expect(await app(`${MAC}.cfg`, UAS.VVX400)).toBe('3111-46157-002.sip.ld'); // its own image first
    const d = h.dir.devices.get('dp')!;
    h.dir.updateDevice('dp', { provision: { ...d.provision, endpoint_brand: 'polycom', endpoint_model: 'VVX310' } } as never);
    expect(await app(`${MAC}.cfg`, UAS.VVX400)).toBe('sip.ld'); // no VVX 310 image: the family's combined one
    expect((await h.get('3111-46157-002.sip.ld', { 'User-Agent': UAS.VVX400 })).body).toBe('VVX400-IMAGE');
  });
});

describe('Polycom files phones ask for (§3)', () => {
  function put(harness: Harness, file: string, body: Buffer | string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${harness.base}/provision/${file}`, { method: 'PUT', headers: { 'User-Agent': UAS.VVX400 } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('<mac>-directory.xml and 000000000000-directory.xml list the account\'s users and carry no secret', async () => {
    h = await startHarness();
    seedEverything(h);
    h.dir.addUser(ACCOUNT, { id: 'ualice', first_name: 'Alice', last_name: 'Able', presence_id: '1001' });
    h.dir.updateAccount(ACCOUNT, { provisioning: {} } as never); // no HTTP auth for this part
    for (const file of [`${MAC}-directory.xml`, '000000000000-directory.xml']) {
      const res = await h.get(file, { 'User-Agent': UAS.VVX400 });
      expect(res.status, file).toBe(200);
      expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
      const { root } = await readPolycom(res.body);
      expect(root).toBe('directory');
      const pairs = [...res.body.matchAll(/<fn>([^<]*)<\/fn>\s*<ct>([^<]*)<\/ct>/g)].map((m) => [m[1], m[2]]);
      expect(pairs).toEqual([['Alice Able', '1001'], ['Bob Builder', '1002']]);
      for (const secret of ['s3cret!', 'Admin-Pass-77', 'User-Pass-55']) expect(res.body).not.toContain(secret);
    }
    const listed = await request(h.base).get(`/v2/accounts/${ACCOUNT}/devices/dp/config`).expect(200);
    expect(listed.body.data.map((f: { name: string }) => f.name)).toContain(`${MAC}-directory.xml`);
  });

  it('log and override uploads are accepted (never 405), bounded, kept per device and readable through the API', async () => {
    h = await startHarness({ env: { PROVISION_UPLOAD_BYTES: '2000' } });
    seedFullDevice(h, { id: 'dp', mac: MAC });
    for (const name of ['app.log', 'boot.log', 'phone.cfg', 'web.cfg']) expect(await put(h, `${MAC}-${name}`, `<x n="${name}"/>`), name).toBe(201);
    expect(await put(h, `${MAC}-app.log`, Buffer.alloc(2001, 'x'))).toBe(413);
    expect(await put(h, `${MAC}-user.cfg`, 'x')).toBe(405); // a rendered file stays read-only
    const list = await request(h.base).get(`/v2/accounts/${ACCOUNT}/devices/dp/provision_uploads`).expect(200);
    expect(list.body.data.map((f: { name: string }) => f.name).sort()).toEqual([`${MAC}-app.log`, `${MAC}-boot.log`, `${MAC}-phone.cfg`, `${MAC}-web.cfg`]);
    const back = await h.get(`${MAC}-phone.cfg`, { 'User-Agent': UAS.VVX400 });
    expect(back.status).toBe(200);
    expect(back.body).toBe('<x n="phone.cfg"/>');
    // The master sends logs and overrides to where it came from: the directory these PUTs were accepted in.
    const master = (await readPolycom((await h.get(`${MAC}.cfg`, { 'User-Agent': UAS.VVX400 })).body)).params;
    expectValues(master, { LOG_FILE_DIRECTORY: '', OVERRIDES_DIRECTORY: '', CONTACTS_DIRECTORY: '' });
  });

  it('shared files never carry the phone passwords or the provisioning credentials', async () => {
    h = await startHarness();
    seedEverything(h);
    const body = (await h.get('000000000000.cfg', { 'User-Agent': UAS.VVX400 })).body;
    for (const secret of ['s3cret!', 'Admin-Pass-77', 'User-Pass-55', 'Prov-Secret-1']) expect(body).not.toContain(secret);
  });
});
