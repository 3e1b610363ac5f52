import { parseStringPromise } from 'xml2js';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeatureKey } from '../../src/domain/types.js';
import { ACCOUNT, REALM, type Harness } from './support/harness.js';
import { fetchFullGrandstream, GS_AUTH, gsUserAgent } from './support/grandstream-device.js';
import { expectValues, readGrandstreamStrict } from './support/readers.js';

/** Grandstream per family: every phone setting in P-values, fetched with the model's real User-Agent. */
const UA = (model: string, mac: string) => gsUserAgent(model, mac);
const AUTH = GS_AUTH;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A device of `model` with every setting of issue 9 §2 (support/grandstream-device.ts), parsed strictly. */
async function fullDevice(model: string, mac: string, firmware?: string) {
  const fetched = await fetchFullGrandstream(h, { model, mac, firmware });
  h = fetched.h;
  return { text: fetched.body, p: await readGrandstreamStrict(fetched.body) };
}

/** What every P-value family writes for its profile 1 and the phone settings. */
const PROFILE = {
  P271: '1', P47: 'sip.example.net:5080', P48: 'sbc.example.net:5090', P130: '2', P103: '0', P32: '10', P138: '45', P52: '2',
  P84: '25', P183: '2', P99: '1', P30: 'ntp.example.net', P207: 'log.example.net', P208: '2',
  P212: '2', P237: 'prov.example.com/provision', P193: '120', P1360: 'phones', P1361: 'Prov-Secret-1',
  P2: 'Adm1n-Pass', P196: 'Us3r-Pass',
};
const EST = 'EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00';
/** Desk phones: account 1 at P35…, the zone as P64 itself, resync P194. */
const COMMON = {
  ...PROFILE, P35: 'user_1001', P36: 'user_1001', P34: 's3cret!', P3: 'Front Desk', P33: '*97', P91: '1', P64: EST, P194: '1',
};
/** The DP75x and HT81x account table: account N at P4060+, P4090+, P4120+, P4180+, P4150+, P4595+. */
const indexedAccount = (n: number, user: string, password: string, name: string) => {
  const at = (base: number) => `P${base + n - 1}`;
  return { [at(4060)]: user, [at(4090)]: user, [at(4120)]: password, [at(4180)]: name, [at(4150)]: '0', [at(4595)]: user ? '1' : '0' };
};
/** What a desk phone writes and an ATA / DECT base must not (no such P-value in Grandstream's template). */
const DESK_ONLY = ['P270', 'P33', 'P87', 'P194', 'P2344', 'P2345', 'P26013', 'P26014', 'P290', 'P298', 'P1363', 'P1488', 'P23000'];

describe('every family: each setting in its own P-value, read back key by key', () => {
  it.each([
    ['GXP2135', '000b82000001', 'gxp2135fw.bin'],
    ['GXP1630', '000b82000002', 'gxp16xxfw.bin'],
    ['GXP1780', '000b82000003', 'gxp17xxfw.bin'],
    ['GRP2670', 'c074ad000004', 'grp2670fw.bin'],
  ])('desk %s', async (model, mac, fw) => {
    const { p } = await fullDevice(model, mac, fw);
    expectValues(p, {
      ...COMMON, P51: '42', P87: '5', P2301: '0', P2302: '0', P2303: '1', P298: '1', P290: '{x+|*x+}',
      P192: 'prov.example.com/provision', P330: '3', P331: 'prov.example.com/provision', P332: '720', P1362: 'fr',
    });
    // GXP21xx has one "upgrade via"; newer families name the firmware protocol apart.
    expect(p.get('P6767')).toBe(model === 'GXP2135' ? undefined : '2');
  });

  it('WP820 (Wi-Fi): no VLAN tag', async () => {
    const { p } = await fullDevice('WP820', '000b82000005', 'wp820fw.bin');
    expectValues(p, { ...COMMON, P298: '1', P330: '3' });
    expect(p.has('P51')).toBe(false);
  });

  it('HT802 (ATA): its own template, port 1 at P35…, dial plan in P4200, DTMF order, no keys, no phonebook', async () => {
    const { text, p } = await fullDevice('HT802', '000b82000006', 'ht802fw.bin');
    expect(text).toContain('HT80x');
    expectValues(p, {
      ...PROFILE, P35: 'user_1001', P36: 'user_1001', P34: 's3cret!', P3: 'Front Desk', P91: '1', P191: '0',
      P51: '42', P5038: '5', P5042: '5', P4200: '{x+|*x+}', P192: 'prov.example.com/provision',
      P22296: '1', P64: 'customize', P246: EST, P850: '102', P851: '100', P852: '101',
      // Port 2 has no line: written empty and off, so a port removed earlier does not stay registered.
      P401: '0', P735: '', P734: '', P731: '0',
    });
    for (const absent of [...DESK_ONLY, 'P330', 'P98', 'P6767', 'P4060']) expect(p.has(absent), absent).toBe(false);
  });

  it('HT814 (ATA): every port in the account table (P4060+), none at P35', async () => {
    const { text, p } = await fullDevice('HT814', '000b8200000e', 'ht814fw.bin');
    expect(text).toContain('HT80x/81x');
    expectValues(p, {
      ...PROFILE, P91: '1', P22296: '1', P64: 'customize', P246: EST, P51: '42', P5038: '5', P850: '102',
      ...indexedAccount(1, 'user_1001', 's3cret!', 'Front Desk'),
      ...indexedAccount(2, '', '', ''),
      ...indexedAccount(4, '', '', ''),
    });
    for (const absent of [...DESK_ONLY, 'P35', 'P36', 'P34', 'P3', 'P4064', 'P401', 'P735']) expect(p.has(absent), absent).toBe(false);
  });

  it('DP750 (DECT base): its own template, accounts in the base\'s table, handset lines, phonebook, no keys', async () => {
    const { text, p } = await fullDevice('DP750', '000b82000007', 'dp750fw.bin');
    expect(text).toContain('DP75x');
    expectValues(p, {
      ...PROFILE, P194: '1', P27680: '*97', P191: '0', P2301: '0', P2302: '0', P2303: '1', P64: 'customize', P246: EST,
      P27004: '1', P51: '42', P5038: '5', P5042: '5', P4200: '{x+|*x+}', P330: '3', P6767: '2', P192: 'prov.example.com/provision',
      ...indexedAccount(1, 'user_1001', 's3cret!', 'Front Desk'),
      ...indexedAccount(10, '', '', ''),
      // Every handset keeps account 1 while it has no account of its own; account 1 rings handset 1 only.
      P4300: '1', P4310: '1', P4320: '1', P4250: '1', P21328: '1', P27080: '1', P27081: '101', P27089: '101',
    });
    for (const absent of [...DESK_ONLY.filter((k) => k !== 'P194'), 'P35', 'P36', 'P34', 'P3', 'P91', 'P4070']) expect(p.has(absent), absent).toBe(false);
  });

  it('firmware is named only when its file exists; resync window = daily at its hour', async () => {
    const { p } = await fullDevice('GRP2670', 'c074ad000008');
    expect(p.has('P192')).toBe(false);
    expect(p.has('P6767')).toBe(false);
    h!.dir.updateDevice('dev-GRP2670', {
      provision: { ...h!.dir.devices.get('dev-GRP2670')!.provision, settings: { resync: { window: { start: '03:00', end: '05:00' } }, sip_server: { transport: 'dns_srv' } } },
    });
    const res = await h!.get('cfgc074ad000008.xml', { 'User-Agent': UA('GRP2670', 'c074ad000008'), ...AUTH });
    expectValues(await readGrandstreamStrict(res.body), { P194: '2', P285: '3', P103: '1', P47: REALM, P130: '0' });
  });
});

describe('issue 9 §4 fixes', () => {
  it('GRP26xx keys use the GRP codes (Line 31, BLF 1, SpeedDial 0, CallPark 9), not the GXP ones', async () => {
    const { p } = await fullDevice('GRP2670', 'c074ad000001');
    expectValues(p, { P1363: '31', P1365: '1', P1467: 'Bob Builder', P1468: '1002', P1367: '0', P1470: '2000', P1369: '9', P1472: '*33', P1371: '1' });
    const gxp = (await fullDevice('GXP2135', '000b82000009')).p;
    expectValues(gxp, { P1363: '0', P1365: '11', P1367: '10', P1369: '19', P1371: '11' });
  });

  it('an unknown GRP model falls back to the family: GRP codes, GRP template values', async () => {
    const { p } = await fullDevice('GRP2699', 'c074ad000002');
    expectValues(p, { P1363: '31', P1365: '1', P98: '2' });
    expect(h!.service.describe(ACCOUNT, 'dev-GRP2699')).toMatchObject({ model_known: false, fallback_family: 'grp26xx' });
  });

  it('personal-park keys are labelled "Park <user>"', async () => {
    const { p } = await fullDevice('GXP2135', '000b8200000a');
    expect(p.get('P1473')).toBe('Park Bob Builder');
  });

  it('codec slots: the device\'s codecs, then distinct factory codecs; P98 only where the family has it', async () => {
    const gxp = (await fullDevice('GXP2135', '000b8200000b')).p;
    const slots = ['P57', 'P58', 'P59', 'P60', 'P61', 'P62', 'P46'].map((s) => gxp.get(s));
    expect(slots.slice(0, 2)).toEqual(['9', '0']); // G722, PCMU; GXP21xx has no OPUS
    expect(new Set(slots).size).toBe(7);
    expect(gxp.has('P98')).toBe(false);
    const grp = (await fullDevice('GRP2670', 'c074ad00000b')).p;
    const grpSlots = ['P57', 'P58', 'P59', 'P60', 'P61', 'P62', 'P46', 'P98'].map((s) => grp.get(s));
    expect(grpSlots.slice(0, 3)).toEqual(['9', '0', '123']);
    expect(new Set(grpSlots).size).toBe(8);
  });

  it('time zones are named POSIX strings with the DST offset written', async () => {
    const { p } = await fullDevice('GRP2670', 'c074ad00000c');
    h!.dir.updateDevice('dev-GRP2670', { timezone: 'Europe/Paris' });
    const paris = await readGrandstreamStrict((await h!.get('cfgc074ad00000c.xml', { 'User-Agent': UA('GRP2670', 'c074ad00000c'), ...AUTH })).body);
    expect(paris.get('P64')).toBe('CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00');
    h!.dir.updateDevice('dev-GRP2670', { timezone: 'Europe/London' });
    const london = await readGrandstreamStrict((await h!.get('cfgc074ad00000c.xml', { 'User-Agent': UA('GRP2670', 'c074ad00000c'), ...AUTH })).body);
    expect(london.get('P64')).toBe('GMT0BST-1,M3.5.0/01:00:00,M10.5.0/02:00:00');
    expect(p.get('P64')).not.toContain('<');
  });

  it('no two keys, and no key and ring rule, write the same parameter (every body and module key filled)', async () => {
    for (const [model, mac] of [
      ['GXP2170', '000b8200000d'], ['GRP2670', 'c074ad00000d'], ['GXP1630', '000b8200000e'], ['GXP2160', '000b8200000f'], ['GXP2130', '000b82000010'],
    ] as const) {
      const { p: first } = await fullDevice(model, mac);
      expect(first.get('P1488')).toBe('ring2');
      const combo: Record<string, FeatureKey> = {};
      const feature: Record<string, FeatureKey> = {};
      for (let i = 0; i < 48; i++) combo[String(i)] = { type: 'speed_dial', value: `20${String(i).padStart(2, '0')}` };
      for (let i = 0; i < 160; i++) feature[String(i)] = { type: 'speed_dial', value: `30${String(i).padStart(3, '0')}` };
      const id = `dev-${model}`;
      // The whole key set the model can hold (the rest would be refused on save: capacity 400).
      const info = h!.service.describe(ACCOUNT, id) as { model_known?: boolean };
      expect(info.model_known).toBe(true);
      h!.dir.updateDevice(id, { provision: { ...h!.dir.devices.get(id)!.provision, combo_keys: combo, feature_keys: feature } });
      const res = await h!.get(`cfg${mac}.xml`, { 'User-Agent': UA(model, mac), ...AUTH });
      const p = await readGrandstreamStrict(res.body); // throws on a parameter written twice
      expectValues(p, { P1488: 'ring2', P1489: '1', P1490: 'ring3', P1491: '2' });
    }
  });
});

describe('GXP VPKs: fixed and dynamic, 1-6 in the P1363 block and 7-48 at P23800 (Grandstream\'s own templates)', () => {
  it('GXP2135: key 7 (fixed) at P23800 in the fixed codes, keys 9 and 32 (dynamic) in the dynamic codes', async () => {
    await fullDevice('GXP2135', '000b82000030');
    const combo: Record<string, FeatureKey> = {
      '5': { type: 'speed_dial', value: { label: 'Six', value: '2006' } },
      '6': { type: 'presence', value: 'u0000000000000000000000000000b0b' },
      '8': { type: 'presence', value: 'u0000000000000000000000000000b0b' },
      '9': { type: 'speed_dial', value: { label: 'Ten', value: '2010' } },
      '31': { type: 'parking', value: 7 },
    };
    h!.dir.updateDevice('dev-GXP2135', { provision: { ...h!.dir.devices.get('dev-GXP2135')!.provision, combo_keys: combo } });
    const p = await readGrandstreamStrict((await h!.get('cfg000b82000030.xml', { 'User-Agent': UA('GXP2135', '000b82000030'), ...AUTH })).body);
    expectValues(p, {
      // Key 6: last of the low block (P1373 mode, P1475 label, P1476 value).
      P1373: '10', P1374: '0', P1475: 'Six', P1476: '2006',
      // Key 7: fixed VPK at P23800, BLF in the fixed code 11.
      P23800: '11', P23801: '0', P23802: 'Bob Builder', P23803: '1002',
      // Key 9 and 10: dynamic VPKs, BLF 1 and speed dial 0.
      P23808: '1', P23810: 'Bob Builder', P23811: '1002', P23812: '0', P23814: 'Ten', P23815: '2010',
      // Key 32: dynamic call park 9.
      P23900: '9', P23903: '*37',
    });
    // Nothing in the old GXP block past key 6 (P1375-P1384, P1477-P1486: not P-values on firmware 1.0.11).
    for (const absent of ['P1375', 'P1377', 'P1477', 'P1479']) expect(p.has(absent), absent).toBe(false);
  });
});

describe('feature-key bank (multi-purpose keys)', () => {
  /** The device of `model` with combo keys on every line key and `n` speed-dial feature keys, read back. */
  async function withKeys(model: string, mac: string, lines: number, n: number) {
    await fullDevice(model, mac);
    const combo: Record<string, FeatureKey> = {};
    const feature: Record<string, FeatureKey> = {};
    for (let i = 0; i < lines; i++) combo[String(i)] = { type: 'speed_dial', value: `20${i}` };
    for (let i = 0; i < n; i++) feature[String(i)] = { type: 'speed_dial', value: `30${String(i).padStart(2, '0')}` };
    const id = `dev-${model}`;
    h!.dir.updateDevice(id, { provision: { ...h!.dir.devices.get(id)!.provision, combo_keys: combo, feature_keys: feature } });
    return readGrandstreamStrict((await h!.get(`cfg${mac}.xml`, { 'User-Agent': UA(model, mac), ...AUTH })).body);
  }

  it('GXP2130 with its 3 line keys used: the 8 feature keys fill MPK 1-8 (P323/P301-P303 … P353-P356), none on a line key', async () => {
    const p = await withKeys('GXP2130', '000b82000020', 3, 8);
    for (let n = 1; n <= 7; n++) {
      expectValues(p, { [`P${322 + n}`]: '0', [`P${300 + 3 * n - 2}`]: '0', [`P${300 + 3 * n}`]: `30${String(n - 1).padStart(2, '0')}` });
    }
    expectValues(p, { P353: '0', P354: '0', P356: '3007' });
    // The line keys keep the combo keys; nothing lands past them in the line-key block.
    expectValues(p, { P1363: '10', P1466: '200', P1365: '10', P1468: '201', P1367: '10', P1470: '202' });
    expect(p.has('P1369')).toBe(false);
    expect([...p.keys()].some((k) => /^P23\d{3}$/.test(k))).toBe(false); // no module on a GXP2130
  });

  it('GXP1630: feature keys go to its 8 MPKs, the line keys stay the combo keys', async () => {
    const p = await withKeys('GXP1630', '000b82000021', 3, 8);
    expectValues(p, { P323: '0', P303: '3000', P329: '0', P321: '3006', P353: '0', P356: '3007', P1466: '200', P1470: '202' });
  });

  it('GXP2160: MPK 1-24 first (9-18 at P357+, 19-24 at P1440+), then the expansion modules from their first key', async () => {
    const p = await withKeys('GXP2160', '000b82000022', 6, 26);
    expectValues(p, { P323: '0', P303: '3000', P357: '0', P360: '3008', P393: '0', P396: '3017', P1440: '0', P1443: '3018', P1460: '0', P1463: '3023' });
    // Feature keys 25 and 26 are module 1 keys 1 and 2 (P23000+5(k-1)).
    expectValues(p, { P23000: '0', P23003: '3024', P23005: '0', P23008: '3025' });
    expect(p.has('P23010')).toBe(false);
  });

  it('GXP2135 has no MPK bank (its extra keys are on-screen VPKs): no MPK P-value is written', async () => {
    const p = await withKeys('GXP2135', '000b82000023', 0, 8);
    expect(p.has('P323')).toBe(false);
    expect(p.has('P353')).toBe(false);
    expectValues(p, { P1363: '10', P1466: '3000' }); // feature keys share the free line keys, as before
  });
});

describe('phonebook.xml', () => {
  it('is the account\'s users as an AddressBook, with no secret, and the config points at it', async () => {
    const { p } = await fullDevice('GXP2135', '000b82000010');
    h!.dir.addUser(ACCOUNT, { id: 'ualice', first_name: 'Alice', last_name: 'Able', presence_id: '1001' });
    const res = await h!.get('phonebook.xml', { 'User-Agent': UA('GXP2135', '000b82000010'), ...AUTH });
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('s3cret');
    expect(res.body).not.toContain('Adm1n');
    const doc = (await parseStringPromise(res.body)) as { AddressBook: { Contact: Array<{ FirstName: string[]; Phone: Array<{ phonenumber: string[] }> }> } };
    expect(doc.AddressBook.Contact.map((c) => [c.FirstName[0], c.Phone[0]!.phonenumber[0]])).toEqual([['Alice Able', '1001'], ['Bob Builder', '1002']]);
    expect(`${p.get('P331')}/phonebook.xml`).toBe('prov.example.com/provision/phonebook.xml');
  });
});
