import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { readGrandstreamV2Strict } from './support/readers.js';

const UA = (model: string, mac: string) => `Grandstream Model HW ${model} SW 1.0.5.15 DevId ${mac}`;
const AUTH = { Authorization: `Basic ${Buffer.from('phones:Prov-Secret-1').toString('base64')}` };
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function fullDevice(model: string, mac: string, firmware?: string) {
  h ??= await startHarness({ env: { SIP_PORT: '15362', PROVISION_BASE_URL: 'https://prov.example.com/provision/' } });
  h.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type: 'basic', username: 'phones', password: 'Prov-Secret-1' } } });
  const d = seedFullDevice(h, { id: `dev-${model}`, mac, brand: 'grandstream', model });
  h.dir.updateDevice(d.id, {
    media: { audio: { codecs: ['G722', 'PCMU', 'OPUS'] }, encryption: { methods: ['srtp'], enforce_security: true } },
    call_waiting: { enabled: false },
    provision: {
      ...h.dir.devices.get(d.id)!.provision,
      settings: {
        sip_server: { host: 'sip.example.net', port: 5080, transport: 'tls' },
        outbound_proxy: 'sbc.example.net:5090',
        nat_keepalive_seconds: 25,
        registration_retry_seconds: 45,
        dtmf_mode: 'info',
        dial_plan: '{x+|*x+}',
        resync: { interval_minutes: 120 },
        admin_password: 'Adm1n-Pass',
        user_password: 'Us3r-Pass',
        ntp_server: 'ntp.example.net',
        syslog_server: 'log.example.net',
        vlan: { id: 42, priority: 5 },
      },
    },
  });
  if (firmware) {
    mkdirSync(path.join(h.dataDir, 'firmware'), { recursive: true });
    writeFileSync(path.join(h.dataDir, 'firmware', firmware), 'IMAGE');
    h.clock.now += 2000;
  }
  const res = await h.get(`cfg${mac}.xml`, { 'User-Agent': UA(model, mac), ...AUTH });
  expect(res.status).toBe(200);
  return res.body;
}

/** Every item the v1 desk template writes, in its config v2 alias (GRP2614, firmware present). */
const FULL: Record<string, string> = {
  'account.1.enable': 'Yes', 'account.1.name': 'Front Desk', 'account.1.sip.server.1.address': 'sip.example.net:5080',
  'account.1.sip.outboundProxy.1.address': 'sbc.example.net:5090', 'account.1.network.dnsMode': 'ARecord',
  'account.1.sip.userid': 'user_1001', 'account.1.sip.subscriber.userid': 'user_1001', 'account.1.sip.subscriber.password': 's3cret!',
  'account.1.sip.subscriber.name': 'Front Desk', 'account.1.sip.registerExpiration': '10', 'account.1.sip.transport': 'TlsOrTcp',
  'account.1.sip.registrationFailureRetryWaitTime': '45', 'account.1.sip.voicemail.number': '*97', 'account.1.sip.subscribe.forMwi': 'Yes',
  'account.1.network.natTraversal': 'KeepAlive', 'sip.keepAliveInterval': '25',
  'account.1.dtmf.sendInAudio': 'No', 'account.1.dtmf.sendInRtp': 'No', 'account.1.dtmf.sendInSip': 'Yes',
  'account.1.audio.srtpMode': 'EnabledAndForced', 'call.callWaiting.enable': 'No', 'account.1.intercom.allowAutoAnswer': 'Yes',
  'account.1.call.dialplan': '{x+|*x+}',
  // The device's codecs (G722, PCMU, OPUS), then the factory order without repeats.
  'account.1.codec.choice.1': 'G.722', 'account.1.codec.choice.2': 'PCMU', 'account.1.codec.choice.3': 'OPUS', 'account.1.codec.choice.4': 'PCMA',
  'account.1.codec.choice.5': 'G.723.1', 'account.1.codec.choice.6': 'G.729A/B', 'account.1.codec.choice.7': 'iLBC', 'account.1.codec.choice.8': 'G.726-32',
  // Combo keys at their slot, in the v2 mode names.
  'pks.vpk.1.keyMode': 'Line', 'pks.vpk.1.account': 'Account1', 'pks.vpk.1.description': '', 'pks.vpk.1.value': '',
  'pks.vpk.2.keyMode': 'BLF', 'pks.vpk.2.account': 'Account1', 'pks.vpk.2.description': 'Bob Builder', 'pks.vpk.2.value': '1002',
  'pks.vpk.3.keyMode': 'SpeedDial', 'pks.vpk.3.account': 'Account1', 'pks.vpk.3.description': 'Lobby', 'pks.vpk.3.value': '2000',
  'pks.vpk.4.keyMode': 'CallPark', 'pks.vpk.4.account': 'Account1', 'pks.vpk.4.description': 'Park 3', 'pks.vpk.4.value': '*33',
  'pks.vpk.5.keyMode': 'BLF', 'pks.vpk.5.account': 'Account1', 'pks.vpk.5.description': 'Park Bob Builder', 'pks.vpk.5.value': '*31002',
  // Feature keys on the GRP2614's physical MPKs.
  'pks.mpk.1.keyMode': 'BLF', 'pks.mpk.1.account': 'Account1', 'pks.mpk.1.description': 'Bob Builder', 'pks.mpk.1.value': '1002',
  'pks.mpk.2.keyMode': 'SpeedDial', 'pks.mpk.2.account': 'Account1', 'pks.mpk.2.description': '5551234', 'pks.mpk.2.value': '5551234',
  'pks.mpk.3.keyMode': 'CallPark', 'pks.mpk.3.account': 'Account1', 'pks.mpk.3.description': 'Park 2', 'pks.mpk.3.value': '*32',
  'account.1.ring.match.1.callerId': 'ring2', 'account.1.ring.match.1.ringtone': '1',
  'account.1.ring.match.2.callerId': 'ring3', 'account.1.ring.match.2.ringtone': '2',
  'dateTime.ntp.server.1': 'ntp.example.net', 'dateTime.timezone': 'EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00', 'language.gui': 'fr',
  'maintain.syslog.server': 'log.example.net', 'maintain.syslog.level': 'Info',
  'network.port.eth.1.vlan.enable': 'Yes', 'network.port.eth.1.vlan.tag': '42', 'network.port.eth.1.vlan.priority': '5',
  'provisioning.config.protocol': 'HTTPS', 'provisioning.config.serverPath': 'prov.example.com/provision',
  'provisioning.auto.mode': 'YesUpgradeMin', 'provisioning.auto.minute': '120',
  'provisioning.config.username': 'phones', 'provisioning.config.password': 'Prov-Secret-1',
  'provisioning.firmware.protocol': 'HTTPS', 'provisioning.firmware.serverPath': 'prov.example.com/provision',
  'phonebook.download.mode': 'EnabledUseHTTPS', 'phonebook.download.server': 'prov.example.com/provision', 'phonebook.download.interval': '720',
  'users.admin.password': 'Adm1n-Pass', 'users.user.password': 'Us3r-Pass',
};

describe('grp261x: config version 2 alias items', () => {
  it('GRP2614 with every setting, fetched with its real User-Agent: each item read back, nothing else written', async () => {
    const text = await fullDevice('GRP2614', 'c074ad0b63ee', 'grp2614fw.bin');
    const { mac, items } = await readGrandstreamV2Strict(text); // throws on a P-value element or an item written twice
    expect(mac).toBe('c074ad0b63ee');
    expect(Object.fromEntries(items)).toEqual(FULL);
    expect(h!.service.describe(ACCOUNT, 'dev-GRP2614')).toMatchObject({ model_known: true });
  });

  it('firmware items only when the file exists; a resync window is a daily check from its hour; DNS SRV', async () => {
    await fullDevice('GRP2612', 'c074ad0b6301');
    const id = 'dev-GRP2612';
    const before = (await readGrandstreamV2Strict((await h!.get('cfgc074ad0b6301.xml', { 'User-Agent': UA('GRP2612', 'c074ad0b6301'), ...AUTH })).body)).items;
    expect(before.has('provisioning.firmware.serverPath')).toBe(false);
    expect(before.has('provisioning.firmware.protocol')).toBe(false);
    h!.dir.updateDevice(id, {
      provision: { ...h!.dir.devices.get(id)!.provision, settings: { resync: { window: { start: '03:00', end: '05:00' } }, sip_server: { transport: 'dns_srv' } } },
    });
    const { items } = await readGrandstreamV2Strict((await h!.get('cfgc074ad0b6301.xml', { 'User-Agent': UA('GRP2612', 'c074ad0b6301'), ...AUTH })).body);
    expect(items.get('provisioning.auto.mode')).toBe('YesUpgradeHourOfDay');
    expect(items.get('provisioning.auto.hour')).toBe('3');
    expect(items.has('provisioning.auto.minute')).toBe(false);
    expect(items.get('account.1.network.dnsMode')).toBe('SRV');
    expect(items.get('account.1.sip.transport')).toBe('UDP');
  });

  it('no item is written twice with every VPK, MPK and module key of a GRP2614 filled', async () => {
    await fullDevice('GRP2614', 'c074ad0b6302');
    const id = 'dev-GRP2614';
    const combo: Record<string, { type: 'speed_dial'; value: string }> = {};
    const feature: Record<string, { type: 'speed_dial'; value: string }> = {};
    for (let i = 0; i < 24; i++) combo[String(i)] = { type: 'speed_dial', value: `20${String(i).padStart(2, '0')}` };
    // Feature keys 1-24 on the MPKs, 25-100 on the modules (the core reads at most 100 keys of a map).
    for (let i = 0; i < 100; i++) feature[String(i)] = { type: 'speed_dial', value: `3${String(i).padStart(3, '0')}` };
    h!.dir.updateDevice(id, { provision: { ...h!.dir.devices.get(id)!.provision, combo_keys: combo, feature_keys: feature } });
    const { items } = await readGrandstreamV2Strict((await h!.get('cfgc074ad0b6302.xml', { 'User-Agent': UA('GRP2614', 'c074ad0b6302'), ...AUTH })).body);
    const count = (section: string) => [...items.keys()].filter((k) => new RegExp(`^pks\\.${section}\\.\\d+\\.keyMode$`).test(k)).length;
    expect([count('vpk'), count('mpk'), count('ext')]).toEqual([24, 24, 76]);
    expect(items.get('pks.vpk.24.value')).toBe('2023');
    expect(items.get('pks.mpk.24.value')).toBe('3023');
    expect(items.get('pks.ext.1.value')).toBe('3024');
    expect(items.get('pks.ext.41.value')).toBe('3064'); // module 2, key 1
    expect(items.get('pks.ext.76.value')).toBe('3099');
    // The ring rules and codec slots keep their own items.
    expect(items.get('account.1.ring.match.1.callerId')).toBe('ring2');
    expect(items.get('account.1.codec.choice.8')).toBe('G.726-32');
  });

  it('an account vendor_param replaces an UNCONFIRMED item; a confirmed item has no such parameter', async () => {
    await fullDevice('GRP2614', 'c074ad0b6303');
    h!.dir.updateAccount(ACCOUNT, { provisioning: { ...h!.dir.accounts.get(ACCOUNT)!.provisioning, settings: { vendor_params: { grandstream: { 'pks.vpk.account': '0', 'account.1.sip.registerExpiration': '30' } } } } });
    const { items } = await readGrandstreamV2Strict((await h!.get('cfgc074ad0b6303.xml', { 'User-Agent': UA('GRP2614', 'c074ad0b6303'), ...AUTH })).body);
    expect(items.get('account.1.sip.registerExpiration')).toBe('30');
    expect(items.get('pks.vpk.1.account')).toBe('0');
    expect(items.get('pks.mpk.1.account')).toBe('Account1');
  });

  it('an unknown GRP261x model (GRP2619) falls back to grp261x: config v2', async () => {
    const text = await fullDevice('GRP2619', 'c074ad0b6304');
    const { items } = await readGrandstreamV2Strict(text);
    expect(items.get('pks.vpk.2.keyMode')).toBe('BLF');
    expect(items.get('account.1.sip.userid')).toBe('user_1001');
    expect(h!.service.describe(ACCOUNT, 'dev-GRP2619')).toMatchObject({ model_known: false, fallback_family: 'grp261x' });
  });

  it('GRP2670 (grp26xx) still gets config v1 P-values', async () => {
    const text = await fullDevice('GRP2670', 'c074ad0b6305');
    expect(text).toContain('<config version="1">');
    expect(text).not.toContain('<item ');
    await expect(readGrandstreamV2Strict(text)).rejects.toThrow(/config version 1/);
    expect(text).toContain('<P1363>31</P1363>');
  });
});
