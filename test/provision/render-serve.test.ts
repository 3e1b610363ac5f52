import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT, REALM, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { expectValues, readGrandstream, readKeyValue, readPolycom } from './support/readers.js';

/** Each vendor: a device with codecs, expiry, BLF, speed dial and park keys, fetched as its phone would. */
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const POLYCOM_UA = 'FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2aabbcc) Type/Application';
const YEALINK_UA = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc';
/** Polycom slot → [category, address, type, label]: the k-th BLF slot (in slot order) shows resource-list entry k. */
function keyAt(p: Map<string, string>, slot: number) {
  const blf = [...p.entries()].filter(([k, v]) => /^lineKey\.\d+\.category$/.test(k) && v === 'BLF').map(([k]) => Number(k.split('.')[1])).sort((a, b) => a - b);
  const n = blf.indexOf(slot) + 1;
  return [p.get(`lineKey.${slot}.category`), p.get(`attendant.resourceList.${n}.address`), p.get(`attendant.resourceList.${n}.type`), p.get(`attendant.resourceList.${n}.label`)];
}
const GS_UA = 'Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b82aabbcc';

describe('Polycom', () => {
  it('serves the master and the user file it lists, with every device value in place', async () => {
    seedFullDevice(h, { id: 'dpoly', mac: '0004f2aabbcc' });
    const master = await h.get('0004F2AABBCC.cfg', { 'User-Agent': POLYCOM_UA }); // phones may use upper case
    expect(master.status).toBe(200);
    expect(master.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(master.headers['cache-control']).toBe('no-store');
    const m = await readPolycom(master.body);
    expect(m.root).toBe('APPLICATION');
    const listed = m.params.get('CONFIG_FILES')!.split(',').map((s) => s.trim());
    expect(listed).toEqual(['0004f2aabbcc-user.cfg']);

    const user = await h.get(listed[0]!, { 'User-Agent': POLYCOM_UA });
    expect(user.status).toBe(200);
    const { params: p } = await readPolycom(user.body);
    expectValues(p, {
      'reg.1.address': `user_1001@${REALM}`,
      'reg.1.auth.userId': 'user_1001',
      'reg.1.auth.password': 's3cret!',
      'reg.1.displayName': 'Front Desk',
      'reg.1.server.1.address': REALM,
      'reg.1.server.1.expires': '600',
    });
    // codecs G722, PCMU, OPUS in that order; everything else disabled
    expectValues(p, {
      'voice.codecPref.G722': '1',
      'voice.codecPref.G711_Mu': '2',
      'voice.codecPref.Opus': '3',
    });
    for (const off of ['G711_A', 'G729_AB', 'G7221.24kbps', 'Siren14.48kbps']) expect(p.get(`voice.codecPref.${off}`)).toBe('0');
    // VVX 400 has expansion modules: combo keys stay at their body slot, feature keys go to the module (slots 13+);
    // lineKey.N places each key; BLF keys take the resource list in order.
    const key = (slot: number) => keyAt(p, slot);
    expectValues(p, { 'lineKey.reassignment.enabled': '1', 'lineKey.1.category': 'Line', 'lineKey.1.index': '1' });
    expect(key(2)).toEqual(['BLF', '1002', 'normal', 'Bob Builder']);
    expect(key(3)).toEqual(['BLF', '2000', 'normal', 'Lobby']);
    expect(key(4)).toEqual(['BLF', '*33', 'automata', 'Park 3']);
    expect(key(5)).toEqual(['BLF', '*31002', 'automata', 'Park Bob Builder']);
    expect(key(13)).toEqual(['BLF', '1002', 'normal', 'Bob Builder']);
    expect(key(14)).toEqual(['BLF', '5551234', 'normal', '5551234']);
    expect(key(15)).toEqual(['BLF', '*32', 'automata', 'Park 2']);
    expect(p.has('attendant.resourceList.8.address')).toBe(false);
    expectValues(p, {
      'voIpProt.SIP.alertInfo.1.value': 'ring2',
      'voIpProt.SIP.alertInfo.1.class': 'custom1',
      'voIpProt.SIP.alertInfo.2.value': 'ring3',
      'tcpIpApp.sntp.gmtOffset': '-18000',
      'tcpIpApp.sntp.daylightSavings.enable': '1',
      'tcpIpApp.sntp.daylightSavings.start.month': '3',
      'tcpIpApp.sntp.daylightSavings.stop.month': '11',
      'lcl.ml.lang': 'French_Canada',
      'msg.mwi.1.subscribe': `user_1001@${REALM}`,
      'msg.mwi.1.callBack': '*97',
    });
  });

  it('serves the default master without any secret and with no MAC needed', async () => {
    seedFullDevice(h, { id: 'dpoly', mac: '0004f2aabbcc' });
    const res = await h.get('000000000000.cfg', { 'User-Agent': 'FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 Type/Updater' });
    expect(res.status).toBe(200);
    const m = await readPolycom(res.body);
    expect(m.params.get('CONFIG_FILES')).toBe('[PHONE_MAC_ADDRESS]-user.cfg');
    expect(res.body).not.toContain('s3cret');
  });
});

describe('Yealink', () => {
  it('serves <mac>.cfg with account, codecs, line keys, ring rules, time and language', async () => {
    seedFullDevice(h, { id: 'dyea', mac: '001565aabbcc', model: 'T46S' });
    const res = await h.get('001565aabbcc.cfg', { 'User-Agent': YEALINK_UA });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.split('\n')[0]).toBe('#!version:1.0.0.1');
    const kv = readKeyValue(res.body);
    expectValues(kv, {
      'account.1.enable': '1',
      'account.1.user_name': 'user_1001',
      'account.1.auth_name': 'user_1001',
      'account.1.password': 's3cret!',
      'account.1.display_name': 'Front Desk',
      'account.1.sip_server.1.address': REALM,
      'account.1.sip_server.1.expires': '600',
    });
    expect([kv.get('account.1.codec.g722.enable'), kv.get('account.1.codec.g722.priority')]).toEqual(['1', '1']);
    expect([kv.get('account.1.codec.pcmu.enable'), kv.get('account.1.codec.pcmu.priority')]).toEqual(['1', '2']);
    expect([kv.get('account.1.codec.opus.enable'), kv.get('account.1.codec.opus.priority')]).toEqual(['1', '3']);
    for (const off of ['pcma', 'g729', 'ilbc', 'g726_32', 'g723_53']) expect(kv.get(`account.1.codec.${off}.enable`)).toBe('0');
    const key = (n: number) => ['type', 'value', 'label', 'line'].map((f) => kv.get(`linekey.${n}.${f}`));
    expect(key(1)).toEqual(['15', '', '', '1']);
    expect(key(2)).toEqual(['16', '1002', 'Bob Builder', '1']);
    expect(key(3)).toEqual(['13', '2000', 'Lobby', '1']);
    expect(key(4)).toEqual(['10', '*33', 'Park 3', '1']);
    expect(key(5)).toEqual(['10', '*31002', 'Park Bob Builder', '1']); // Kazoo's "Park <name>" label
    expectValues(kv, {
      'expansion_module.1.key.1.type': '16',
      'expansion_module.1.key.2.value': '5551234',
      'expansion_module.1.key.3.value': '*32',
      'distinctive_ring_tones.alert_info.1.text': 'ring2',
      'distinctive_ring_tones.alert_info.2.text': 'ring3',
      'local_time.time_zone': '-5',
      'local_time.summer_time': '1',
      'lang.gui': 'French',
      'account.1.subscribe_mwi': '1',
      'voice_mail.number.1': '*97',
    });
  });

  it('serves the per-model common file without secrets and 404s unknown model ids', async () => {
    seedFullDevice(h, { id: 'dyea', mac: '001565aabbcc', model: 'T46S' });
    const res = await h.get('y000000000066.cfg', { 'User-Agent': YEALINK_UA });
    expect(res.status).toBe(200);
    const kv = readKeyValue(res.body);
    expect(kv.get('sip.notify_reboot_enable')).toBe('0');
    expect(res.body).not.toContain('s3cret');
    expect(res.body).not.toContain('user_1001');
    expect((await h.get('y000000000001.cfg', { 'User-Agent': YEALINK_UA })).status).toBe(404);
  });

  it('sends nothing but headers for HEAD', async () => {
    seedFullDevice(h, { id: 'dyea', mac: '001565aabbcc' });
    const res = await h.get('001565aabbcc.cfg', { 'User-Agent': YEALINK_UA }, 'HEAD');
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(100);
    expect(res.body).toBe('');
  });
});

describe('Grandstream', () => {
  it('serves cfg<mac>.xml with P-values, expiry in minutes, codec slots, MPK and line keys', async () => {
    seedFullDevice(h, { id: 'dgs', mac: '000b82aabbcc' });
    const res = await h.get('cfg000b82aabbcc.xml', { 'User-Agent': GS_UA });
    expect(res.status).toBe(200);
    const { mac, version, p } = await readGrandstream(res.body);
    expect(mac).toBe('000b82aabbcc');
    expect(version).toBe('1');
    expectValues(p, {
      'P271': '1',
      'P47': `${REALM}:5060`, // SIP_PORT (default 5060 in this harness), never a fixed port
      'P35': 'user_1001',
      'P36': 'user_1001',
      'P34': 's3cret!',
      'P3': 'Front Desk',
      'P32': '10', // 600 s = 10 minutes
    });
    // G722 (9), PCMU (0) (GXP21xx has no OPUS), then the family's factory order; no P98 on GXP21xx
    expect(['P57', 'P58', 'P59', 'P60', 'P61', 'P62', 'P46', 'P98'].map((k) => p.get(k))).toEqual(['9', '0', '8', '4', '18', '98', '2', undefined]);
    // Feature keys on a model without a module take free body slots only: 1..3 are the combo keys'
    expect(p.has('P323')).toBe(false);
    // Line keys (combo_keys): mode P1363+2(n-1), account P1364.., label P1465.., value P1466..
    expect(p.get('P1363')).toBe('0');
    expect([p.get('P1365'), p.get('P1366'), p.get('P1467'), p.get('P1468')]).toEqual(['11', '0', 'Bob Builder', '1002']);
    expect([p.get('P1367'), p.get('P1470')]).toEqual(['10', '2000']);
    expect([p.get('P1369'), p.get('P1472')]).toEqual(['19', '*33']);
    expect([p.get('P1371'), p.get('P1474'), p.get('P1473')]).toEqual(['11', '*31002', 'Park Bob Builder']);
    expect([p.get('P1488'), p.get('P1490')]).toEqual(['ring2', 'ring3']);
    expectValues(p, {
      'P64': 'EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00',
      'P1362': 'fr',
      'P99': '1',
    });
  });
});

describe('vendor choice', () => {
  it('prefers provision.endpoint_brand, then the User-Agent, then the OUI', async () => {
    // Polycom OUI but branded Yealink: <mac>.cfg is the Yealink file.
    seedFullDevice(h, { id: 'd1', mac: '0004f2000001', brand: 'yealink' });
    expect((await h.get('0004f2000001.cfg')).body.startsWith('#!version:1.0.0.1')).toBe(true);
    // Unknown OUI, no brand: the User-Agent decides.
    seedFullDevice(h, { id: 'd2', mac: 'aabbcc000002' });
    expect((await h.get('aabbcc000002.cfg', { 'User-Agent': 'Yealink SIP-T46S 66.86.0.15 aa:bb:cc:00:00:02' })).body.startsWith('#!version')).toBe(true);
    expect((await h.get('aabbcc000002.cfg', { 'User-Agent': 'curl/8' })).body.startsWith('#!version')).toBe(true); // remembered from last fetch
    // Polycom OUI and no brand or UA: Polycom master.
    seedFullDevice(h, { id: 'd3', mac: '0004f2000003' });
    expect((await h.get('0004f2000003.cfg')).body).toContain('<APPLICATION');
    // A file of another vendor than the device's is not served.
    expect((await h.get('cfg0004f2000003.xml')).status).toBe(404);
  });

  it('gives SIP the vendor check-sync event and auto-answer headers', async () => {
    seedFullDevice(h, { id: 'p', mac: '0004f2000001' });
    seedFullDevice(h, { id: 'y', mac: '001565000001' });
    seedFullDevice(h, { id: 'g', mac: '000b82000001' });
    expect(h.service.checkSyncEvent(ACCOUNT, 'p', false)).toBe('check-sync');
    expect(h.service.checkSyncEvent(ACCOUNT, 'y', false)).toBe('check-sync;reboot=false');
    expect(h.service.checkSyncEvent(ACCOUNT, 'y', true)).toBe('check-sync;reboot=true');
    expect(h.service.checkSyncEvent(ACCOUNT, 'g', false)).toBe('resync');
    expect(h.service.checkSyncEvent(ACCOUNT, 'g', true)).toBe('check-sync;reboot=true');
    expect(h.service.autoAnswerHeaders(ACCOUNT, 'y')['Call-Info']).toBe(`<sip:${REALM}>;answer-after=0`);
    expect(h.service.autoAnswerHeaders(ACCOUNT, 'g')['Call-Info']).toBe(`<sip:${REALM}>;answer-after=0`);
    expect(h.service.autoAnswerHeaders(ACCOUNT, 'p')['Alert-Info']).toContain('autoanswer');
  });
});
