import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStringPromise } from 'xml2js';
import { checkFormat } from '../../src/provision/formats.js';
import { yealinkModels } from '../../vendors/yealink-models.js';
import { ACCOUNT, REALM, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { expectValues, readKeyValue, readYealinkBoot } from './support/readers.js';

/**
 * Yealink per family: a device with every phone setting, fetched over HTTP with the model's real User-Agent, parsed
 * back and checked key by key; boot files, the remote phonebook, DECT bases, ring and label fixes, no collisions.
 */
const colons = (mac: string) => mac.match(/../g)!.join(':');
const FAMILIES = [
  { family: 't2x', model: 'T27G', mac: '001565270001', ua: (m: string) => `Yealink SIP-T27G 69.86.0.15 ${colons(m)}`, commonId: '69' },
  { family: 't3x', model: 'T31G', mac: '805ec0310001', ua: (m: string) => `Yealink SIP-T31G 124.85.257.55 ${colons(m)}`, commonId: '123' },
  { family: 't4x', model: 'T46S', mac: '001565460001', ua: (m: string) => `Yealink SIP-T46S 66.86.0.15 ${colons(m)}`, commonId: '66' },
  { family: 't5x', model: 'T54W', mac: '001565540001', ua: (m: string) => `Yealink SIP-T54W 96.86.0.45 ${m}`, commonId: '96' },
  { family: 'cp', model: 'CP920', mac: '001565920001', ua: (m: string) => `Yealink SIP-CP920 78.86.0.15 ${colons(m)}`, commonId: '78' },
  { family: 'wdect', model: 'W60B', mac: '001565600001', ua: (m: string) => `Yealink W60B 77.83.0.85 ${colons(m)}`, commonId: '77' },
] as const;
const uaFor = (mac: string, model: string) => `Yealink SIP-${model} 1.86.0.1 ${colons(mac)}`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Every setting of issue 9 §2 on the device (Kazoo's own fields where Kazoo keeps them). */
function seedEverySetting(harness: Harness, id: string, mac: string, model: string) {
  seedFullDevice(harness, { id, mac, brand: 'yealink', model });
  const d = harness.dir.devices.get(id)!;
  const keys = model === 'T31G'
    ? { combo_keys: { '0': { type: 'line' }, '1': { type: 'personal_parking', value: 'u0000000000000000000000000000b0b' } }, feature_keys: {} }
    : model === 'CP920' || model === 'W60B' ? { combo_keys: {}, feature_keys: {} } : {};
  harness.dir.updateDevice(id, {
    provision: {
      ...d.provision,
      ...keys,
      settings: {
        sip_server: { host: 'sip.example.net', port: 5070, transport: 'tcp' },
        outbound_proxy: 'sbc.example.net:5080',
        nat_keepalive_seconds: 25,
        registration_retry_seconds: 45,
        dtmf_mode: 'info',
        dial_plan: '[2-9]xxxxxx|1[2-9]xxxxxxxxx',
        resync: { interval_minutes: 90 },
        admin_password: 'Adm1n-Pw-Y',
        user_password: 'Us3r-Pw-Y',
        ntp_server: 'ntp.example.net',
        syslog_server: 'logs.example.net',
        vlan: { id: 40, priority: 5 },
      },
    },
    call_waiting: { enabled: false },
    do_not_disturb: { enabled: true },
    call_forward: { enabled: true, number: '5559876', failover: true },
    media: { ...d.media, encryption: { methods: ['srtp'], enforce_security: true } },
  } as never);
}

async function fetchCfg(harness: Harness, name: string, ua: string) {
  const res = await harness.get(name, { 'User-Agent': ua });
  expect(res.status, `${name}: ${res.body}`).toBe(200);
  return res.body;
}

const COMMON_EXPECTED = {
  'account.1.enable': '1',
  'account.1.display_name': 'Front Desk',
  'account.1.user_name': 'user_1001',
  'account.1.auth_name': 'user_1001',
  'account.1.password': 's3cret!',
  'account.1.sip_server.1.address': 'sip.example.net',
  'account.1.sip_server.1.port': '5070',
  'account.1.sip_server.1.transport_type': '1',
  'account.1.sip_server.1.expires': '600',
  'account.1.outbound_proxy_enable': '1',
  'account.1.outbound_proxy.1.address': 'sbc.example.net',
  'account.1.outbound_proxy.1.port': '5080',
  'account.1.nat.udp_update_enable': '1',
  'account.1.nat.udp_update_time': '25',
  'account.1.reg_fail_retry_interval': '45',
  'account.1.dtmf.type': '2',
  'account.1.dtmf.info_type': '1',
  'account.1.srtp_encryption': '2',
  'account.1.codec.g722.enable': '1',
  'account.1.codec.g722.priority': '1',
  'account.1.codec.pcmu.priority': '2',
  'account.1.codec.opus.priority': '3',
  'account.1.codec.pcma.enable': '0',
  'account.1.subscribe_mwi': '1',
  'call_waiting.enable': '0',
  'dialplan.digitmap.enable': '1',
  'dialplan.digitmap.string': '[2-9]xxxxxx|1[2-9]xxxxxxxxx',
  'local_time.ntp_server1': 'ntp.example.net',
  'local_time.time_zone': '-5',
  'local_time.summer_time': '1',
  'local_time.start_time': '3/2/7/2',
  'local_time.end_time': '11/1/7/2',
  'local_time.offset_time': '60',
  'lang.wui': 'French',
  'static.network.vlan.internet_port_enable': '1',
  'static.network.vlan.internet_port_vid': '40',
  'static.network.vlan.internet_port_priority': '5',
  'remote_phonebook.data.1.name': 'Acme',
  'static.auto_provision.repeat.enable': '1',
  'static.auto_provision.repeat.minutes': '90',
  'static.security.user_password[admin]': 'admin:Adm1n-Pw-Y',
  'static.security.user_password[user]': 'user:Us3r-Pw-Y',
  'sip.notify_reboot_enable': '0',
};

describe('Yealink families: every setting, in the family\'s own keys', () => {
  for (const f of FAMILIES) {
    it(`${f.family} (${f.model}): rendered, fetched with the real User-Agent, parsed back key by key`, async () => {
      h = await startHarness();
      seedEverySetting(h, `dev-${f.model}`, f.mac, f.model);
      const kv = readKeyValue(await fetchCfg(h, `${f.mac}.cfg`, f.ua(f.mac)));
      const base = `${h.base}/provision/`;
      expectValues(kv, {
        ...COMMON_EXPECTED,
        'static.auto_provision.server.url': base,
        'remote_phonebook.data.1.url': `${base}${f.mac}-phonebook.xml`,
      });
      if (f.family === 'wdect') {
        expectValues(kv, {
          'handset.1.name': 'Front Desk',
          'handset.1.incoming_lines': '1',
          'handset.1.dial_out_lines': '1',
          'handset.1.dial_out_default_line': '1',
          'account.1.dnd.enable': '1',
          'account.1.always_fwd.enable': '0',
          'account.1.busy_fwd.enable': '1',
          'account.1.busy_fwd.target': '5559876',
          'account.1.timeout_fwd.enable': '1',
          'account.1.timeout_fwd.target': '5559876',
          'custom.handset.language': '1',
          'static.syslog.mode': '1',
          'static.syslog.server': 'logs.example.net',
        });
        // A base has no line keys and no on-screen GUI language of its own.
        expect([...kv.keys()].filter((k) => /^(linekey|expansion_module|distinctive_ring_tones)\./.test(k) || k === 'lang.gui')).toEqual([]);
      } else {
        expectValues(kv, {
          'features.dnd.enable': '1',
          'forward.always.enable': '0',
          'forward.busy.enable': '1',
          'forward.busy.target': '5559876',
          'forward.no_answer.enable': '1',
          'forward.no_answer.target': '5559876',
          'lang.gui': 'French',
          'static.syslog.enable': '1',
          'static.syslog.server': 'logs.example.net',
          'distinctive_ring_tones.alert_info.1.text': 'ring2',
          'distinctive_ring_tones.alert_info.1.ringer': '2',
          'distinctive_ring_tones.alert_info.2.text': 'ring3',
          'distinctive_ring_tones.alert_info.2.ringer': '3',
        });
        expect([...kv.keys()].some((k) => k.startsWith('handset.'))).toBe(false);
      }
      if (f.family === 'cp') expect([...kv.keys()].some((k) => /^(linekey|expansion_module)\./.test(k))).toBe(false);
      if (f.model === 'T31G') expectValues(kv, { 'linekey.1.type': '15', 'linekey.2.type': '10', 'linekey.2.value': '*31002', 'linekey.2.label': 'Park Bob Builder' });
      if (f.model === 'T46S' || f.model === 'T54W') {
        expectValues(kv, { 'linekey.2.type': '16', 'linekey.3.value': '2000', 'linekey.5.label': 'Park Bob Builder', 'expansion_module.1.key.1.type': '16' });
      }
      expect(h.service.describe(ACCOUNT, `dev-${f.model}`)).toMatchObject({ model: f.model, model_known: true, family: f.family });
    });
  }

  it('an unknown model falls back to its family\'s file: a W-series base gets the DECT layout, a T3x the desk one', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'w9', mac: '001565990001', brand: 'yealink', model: 'W99B' });
    seedFullDevice(h, { id: 't3', mac: '001565990002', brand: 'yealink', model: 'T39X' });
    const dect = readKeyValue(await fetchCfg(h, '001565990001.cfg', 'Yealink W99B 1.2.3 00:15:65:99:00:01'));
    expect(dect.get('handset.1.incoming_lines')).toBe('1');
    expect(dect.has('linekey.1.type')).toBe(false);
    const desk = readKeyValue(await fetchCfg(h, '001565990002.cfg', uaFor('001565990002', 'T39X')));
    expect(desk.has('handset.1.incoming_lines')).toBe(false);
    expect(desk.get('lang.gui')).toBe('French');
    expect(h.service.describe(ACCOUNT, 'w9')).toMatchObject({ model_known: false, fallback_family: 'wdect' });
  });
});

describe('Yealink boot files', () => {
  it('are checked as "lines": the exact header, then include:config lines a key=value check would refuse', () => {
    const boot = '#!version:1.0.0.1\n[T46S, T48S]include:config "y000000000066.cfg"\noverwrite_mode = 1\n';
    expect(() => checkFormat('lines', boot, '#!version:1.0.0.1')).not.toThrow();
    expect(() => checkFormat('keyvalue', boot, '#!version:1.0.0.1')).toThrow(/key = value/);
    expect(() => checkFormat('lines', `#!version:1.0.0.2\n${boot}`, '#!version:1.0.0.1')).toThrow(/first line/);
  });

  it('<mac>.boot names the model\'s common file, then the phone\'s own, with overwrite mode; both are served', async () => {
    h = await startHarness();
    for (const f of FAMILIES) seedFullDevice(h, { id: `d-${f.model}`, mac: f.mac, brand: 'yealink', model: f.model });
    for (const f of FAMILIES) {
      const boot = readYealinkBoot(await fetchCfg(h, `${f.mac}.boot`, f.ua(f.mac)));
      const common = `y${f.commonId.padStart(12, '0')}.cfg`;
      expect(boot.includes, f.model).toEqual([{ file: common }, { file: `${f.mac}.cfg` }]);
      expect(Object.fromEntries(boot.params)).toEqual({ overwrite_mode: '1' });
      // Every file the boot file names is there for this phone.
      for (const inc of boot.includes) await fetchCfg(h, inc.file, f.ua(f.mac));
    }
    // An unknown model has no common file to name: only its own.
    seedFullDevice(h, { id: 'unk', mac: '001565990003', brand: 'yealink', model: 'T49X' });
    expect(readYealinkBoot(await fetchCfg(h, '001565990003.boot', uaFor('001565990003', 'T49X'))).includes).toEqual([{ file: '001565990003.cfg' }]);
    // The fetch list (preview / fingerprint) starts with the boot file, as the phone does.
    expect(h.service.describe(ACCOUNT, 'd-T46S')!.files).toEqual(['001565460001.boot', 'y000000000066.cfg', '001565460001.cfg', '001565460001-phonebook.xml']);
  });

  it('a phone whose model is not known yet is fingerprinted on the <mac>.cfg it is served: a new name changes the fingerprint', async () => {
    h = await startHarness();
    // No brand, no model on the device, and the phone has not said its model (a SIP User-Agent without one).
    h.dir.addDevice(ACCOUNT, { id: 'unplaced', name: 'Notify Me', mac_address: '001565c30001', sip: { username: 'c3', password: 'pw-c3' } });
    const served = () => fetchCfg(h!, '001565c30001.cfg', 'SIPp phone');
    expect(await served()).toContain('account.1.label = Notify Me');
    const before = await h.service.fingerprint(ACCOUNT, 'unplaced');
    expect(before).toEqual(expect.any(String));
    h.dir.updateDevice('unplaced', { name: 'Notified Once' });
    expect(await served()).toContain('account.1.label = Notified Once');
    const after = await h.service.fingerprint(ACCOUNT, 'unplaced');
    expect(after).toEqual(expect.any(String));
    expect(after).not.toBe(before);
  });

  it('y000000000000.boot: each common file once, selected by model, no secrets, no MAC', async () => {
    h = await startHarness();
    const text = await fetchCfg(h, 'y000000000000.boot', 'Yealink SIP-T46S 66.86.0.15');
    const boot = readYealinkBoot(text);
    expect(boot.params.get('overwrite_mode')).toBe('1');
    const byFile = new Map(boot.includes.map((i) => [i.file, i.models]));
    expect(byFile.size).toBe(boot.includes.length);
    expect(byFile.get('y000000000066.cfg')).toEqual(['T46S']);
    expect(byFile.get('y000000000095.cfg')).toEqual(['T53', 'T53W']);
    expect(byFile.get('y000000000175.cfg')).toEqual(['W80B', 'W80DM']);
    for (const m of yealinkModels.filter((x) => x.commonFileId)) {
      expect(byFile.get(`y${m.commonFileId!.padStart(12, '0')}.cfg`), m.model).toContain(m.model);
    }
    expect(boot.includes.every((i) => i.models && i.models.length > 0)).toBe(true);
    expect(text).not.toMatch(/password|s3cret/i);
  });
});

describe('Yealink remote phonebook', () => {
  it('is the account\'s users as YealinkIPPhoneDirectory, at the URL the config names, without secrets', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcc', brand: 'yealink', model: 'T46S' });
    h.dir.addUser(ACCOUNT, { id: 'ualice', first_name: 'Alice', last_name: 'A & B', presence_id: '1001' });
    const ua = `Yealink SIP-T46S 66.86.0.15 ${colons('001565aabbcc')}`;
    const url = readKeyValue(await fetchCfg(h, '001565aabbcc.cfg', ua)).get('remote_phonebook.data.1.url')!;
    expect(url.startsWith(`${h.base}/provision/`)).toBe(true);
    const body = await fetchCfg(h, url.slice(`${h.base}/provision/`.length), ua);
    const doc = (await parseStringPromise(body, { explicitArray: true, strict: true })) as {
      YealinkIPPhoneDirectory: { DirectoryEntry: { Name: string[]; Telephone: string[] }[] };
    };
    expect(doc.YealinkIPPhoneDirectory.DirectoryEntry.map((e) => [e.Name[0], e.Telephone[0]])).toEqual([
      ['Alice A & B', '1001'],
      ['Bob Builder', '1002'],
    ]);
    expect(body).not.toMatch(/s3cret|password/i);
    expect(body).not.toContain(REALM);
  });
});

describe('Yealink remote phonebook behind the account\'s HTTP auth', () => {
  it('the config gives the phonebook fetch the account\'s credentials, and the phonebook answers them', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcd', brand: 'yealink', model: 'T46S' });
    h.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type: 'basic', username: 'phones', password: 'Prov-Secret-1' } } });
    const ua = `Yealink SIP-T46S 66.86.0.15 ${colons('001565aabbcd')}`;
    const basic = `Basic ${Buffer.from('phones:Prov-Secret-1').toString('base64')}`;
    const cfg = await h.get('001565aabbcd.cfg', { 'User-Agent': ua, Authorization: basic });
    expect(cfg.status).toBe(200);
    expectValues(readKeyValue(cfg.body), { 'remote_phonebook.data.1.username': 'phones', 'remote_phonebook.data.1.password': 'Prov-Secret-1' });
    expect((await h.get('001565aabbcd-phonebook.xml', { 'User-Agent': ua })).status).toBe(401);
    const book = await h.get('001565aabbcd-phonebook.xml', { 'User-Agent': ua, Authorization: basic });
    expect(book.status).toBe(200);
    expect(book.body).toContain('<Name>Bob Builder</Name>');
    expect(book.body).not.toContain('Prov-Secret-1');
  });
});

describe('Yealink firmware', () => {
  it('static.firmware.url names the model\'s image only while the file is under DATA_DIR/firmware/', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'fw', mac: '001565000007', brand: 'yealink', model: 'T46S' });
    seedFullDevice(h, { id: 'fw-dect', mac: '001565000008', brand: 'yealink', model: 'W60B' });
    const ua = uaFor('001565000007', 'T46S');
    const dectUa = `Yealink W60B 77.83.0.85 ${colons('001565000008')}`;
    expect(readKeyValue(await fetchCfg(h, '001565000007.cfg', ua)).has('static.firmware.url')).toBe(false);
    mkdirSync(path.join(h.dataDir, 'firmware'));
    writeFileSync(path.join(h.dataDir, 'firmware', 't46s.rom'), 'ROM');
    writeFileSync(path.join(h.dataDir, 'firmware', 'w60b.rom'), 'ROM-DECT');
    h.clock.now += 2000; // the listing is re-read once a second
    const url = readKeyValue(await fetchCfg(h, '001565000007.cfg', ua)).get('static.firmware.url')!;
    expect(url).toBe(`${h.base}/provision/t46s.rom`);
    expect(await fetchCfg(h, 't46s.rom', ua)).toBe('ROM');
    expect(readKeyValue(await fetchCfg(h, '001565000008.cfg', dectUa)).get('static.firmware.url')).toBe(`${h.base}/provision/w60b.rom`);
  });
});

describe('Yealink fixes from the peer comparison', () => {
  it('Alert-Info text ringN rings RingN.wav (Wazo); other texts keep ringers 2 and 3; one rule per text', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'r', mac: '001565000005', brand: 'yealink', model: 'T46S' });
    const ua = uaFor('001565000005', 'T46S');
    h.dir.updateDevice('r', { ringtones: { internal: 'ring5', external: '<http://x/y>;info=ring8' } });
    expectValues(readKeyValue(await fetchCfg(h, '001565000005.cfg', ua)), {
      'distinctive_ring_tones.alert_info.1.text': 'ring5',
      'distinctive_ring_tones.alert_info.1.ringer': '5',
      'distinctive_ring_tones.alert_info.2.text': 'ring8',
      'distinctive_ring_tones.alert_info.2.ringer': '8',
    });
    h.dir.updateDevice('r', { ringtones: { internal: 'office', external: 'office' } });
    const kv = readKeyValue(await fetchCfg(h, '001565000005.cfg', ua));
    expectValues(kv, { 'distinctive_ring_tones.alert_info.1.text': 'office', 'distinctive_ring_tones.alert_info.1.ringer': '2' });
    expect(kv.has('distinctive_ring_tones.alert_info.2.text')).toBe(false);
  });

  it('personal-park keys are labelled "Park <name>" (Kazoo), on the body and on an expansion module', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'p', mac: '001565000006', brand: 'yealink', model: 'T46S' });
    const d = h.dir.devices.get('p')!;
    h.dir.updateDevice('p', { provision: { ...d.provision, feature_keys: { '3': { type: 'personal_parking', value: 'u0000000000000000000000000000b0b' } } } });
    expectValues(readKeyValue(await fetchCfg(h, '001565000006.cfg', uaFor('001565000006', 'T46S'))), {
      'linekey.5.label': 'Park Bob Builder',
      'expansion_module.1.key.4.label': 'Park Bob Builder',
      'expansion_module.1.key.4.value': '*31002',
    });
  });
});

/** Every `key = value` line of a file, values kept per key (the password key per login, as the phone reads it). */
function allAssignments(text: string, into: Map<string, Set<string>>, file: string) {
  for (const line of text.split('\n').slice(1)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    if (eq < 0) throw new Error(`${file}: not key=value: ${t}`);
    let key = t.slice(0, eq).trim();
    const value = t.slice(eq + 1).trim();
    if (key === 'static.security.user_password') key += `[${value.split(':')[0]}]`;
    const seen = into.get(key) ?? new Set<string>();
    seen.add(value);
    into.set(key, seen);
  }
}

describe('Yealink: no parameter written twice with different values', () => {
  it('for every catalogue model, over all the files its boot file loads, with keys, ring rules and every setting', async () => {
    h = await startHarness();
    yealinkModels.forEach((m, i) => {
      const mac = `0015650${String(i + 1).padStart(5, '0')}`;
      seedEverySetting(h!, `m${i}`, mac, m.model);
      const d = h!.dir.devices.get(`m${i}`)!;
      // Keys on every slot the model has (and the ring texts of the seed), so rules and keys meet.
      const combo = Object.fromEntries(Array.from({ length: m.lineKeys }, (_, k) => [String(k), { type: 'speed_dial' as const, value: `${k}` }]));
      const feature: Record<string, { type: 'speed_dial'; value: string }> = m.expansion ? { '0': { type: 'speed_dial' as const, value: '77' }, [String(m.expansion.keysEach)]: { type: 'speed_dial' as const, value: '78' } } : {};
      h!.dir.updateDevice(`m${i}`, { provision: { ...d.provision, combo_keys: combo, feature_keys: feature } });
    });
    for (const [i, m] of yealinkModels.entries()) {
      const mac = `0015650${String(i + 1).padStart(5, '0')}`;
      const ua = m.kind === 'dect_base' ? `Yealink ${m.model} 1.83.0.1 ${colons(mac)}` : uaFor(mac, m.model);
      const seen = new Map<string, Set<string>>();
      const boot = readYealinkBoot(await fetchCfg(h, `${mac}.boot`, ua));
      for (const inc of boot.includes) allAssignments(await fetchCfg(h, inc.file, ua), seen, inc.file);
      const twice = [...seen].filter(([, values]) => values.size > 1).map(([k, v]) => `${k}: ${[...v].join(' | ')}`);
      expect(twice, m.model).toEqual([]);
      // Each file on its own: no key twice at all (the password key once per login).
      readKeyValue(await fetchCfg(h, `${mac}.cfg`, ua));
    }
  });
});

describe('keys on the last expansion module', () => {
  it('a T27G with six EXP40 modules gets its 240th feature key on module 6, key 40 (nothing is cut at 100)', async () => {
    const harness = await startHarness();
    try {
      const mac = '001565270240';
      seedFullDevice(harness, { id: 'd-t27g', mac, brand: 'yealink', model: 'T27G' });
      harness.dir.updateDevice('d-t27g', {
        provision: { ...harness.dir.devices.get('d-t27g')!.provision, feature_keys: { '0': { type: 'speed_dial', value: '5550001' }, '239': { type: 'speed_dial', value: '5550240' } } },
      });
      const res = await harness.get(`${mac}.cfg`, { 'User-Agent': uaFor(mac, 'T27G') });
      expect(res.status).toBe(200);
      const p = readKeyValue(res.body);
      expect(p.get('expansion_module.1.key.1.value')).toBe('5550001');
      expect(p.get('expansion_module.6.key.40.value')).toBe('5550240');
    } finally {
      await harness.close();
    }
  });
});
