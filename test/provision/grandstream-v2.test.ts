import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, type Harness } from './support/harness.js';
import { fetchFullGrandstream, GS_AUTH, gsUserAgent } from './support/grandstream-device.js';
import { readGrandstreamV2Strict } from './support/readers.js';

const UA = (model: string, mac: string) => gsUserAgent(model, mac, '1.0.5.15');
const AUTH = GS_AUTH;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A device of `model` with every setting of issue 9 §2 (support/grandstream-device.ts), as GRP261x firmware asks. */
async function fullDevice(model: string, mac: string, firmware?: string) {
  const fetched = await fetchFullGrandstream(h, { model, mac, firmware, sw: '1.0.5.15' });
  h = fetched.h;
  return fetched.body;
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
  'account.1.audio.srtpMode': 'EnabledAndForced', 'call.callWaiting.enable': 'No', 
  // DND / call-forward keys dial Kazoo's feature codes (grandstream-call-features.test.ts)
  'account.1.featureCodes.dndOn': '*78', 'account.1.featureCodes.dndOff': '*79', 'account.1.featureCodes.callForwardUnconditionallyOn': '*72', 'account.1.featureCodes.callForwardUnconditionallyOff': '*73',
  'account.1.intercom.allowAutoAnswer': 'Yes',
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
