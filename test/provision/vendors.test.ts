import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { grandstream } from '../../vendors/grandstream.js';
import { polycom } from '../../vendors/polycom.js';
import { yealink } from '../../vendors/yealink.js';
import { cleanMac, type VendorProfile } from '../../vendors/types.js';
import { timezoneInfo } from '../../src/provision/timezone.js';
import { resolveSettings } from '../../src/provision/settings.js';

const buildInputSettings = () =>
  resolveSettings({} as never, { realm: '' } as never, { sipPort: 5060, registrarServes: false }, { host: 'localhost', scheme: 'http' });
import { ACCOUNT, startHarness, type Harness } from './support/harness.js';
import { readKeyValue } from './support/readers.js';

describe('User-Agent parsing (samples from vendors.md §1)', () => {
  it.each([
    [yealink, 'Yealink SIP-T46G 28.83.0.120 00:15:65:4a:a9:37', 'T46G', '0015654aa937'],
    [yealink, 'Yealink SIP-T31G 124.85.257.55 80:5e:c0:d5:7d:72', 'T31G', '805ec0d57d72'],
    [yealink, 'Yealink SIP-T56A 58.80.0.25 001565f429a4', 'T56A', '001565f429a4'],
    [yealink, 'yealink SIP-T28P 2.73.0.50 00:15:65:11:22:33', 'T28P', '001565112233'],
    [yealink, 'Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0', 'T46G', undefined],
    [polycom, 'FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application', 'VVX400', undefined],
    [polycom, 'FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078', 'SPIP335', undefined],
    [polycom, 'FileTransport PolycomVVX-VVX_410-UA/4.0.3.7562 (SN:0004f2abcdef) Type/Application', 'VVX410', '0004f2abcdef'],
    [grandstream, 'Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872', 'GXP2135', '000b828aa872'],
    [grandstream, 'Grandstream Model HW GXP2200 V2.2A SW 1.0.1.33 DevId 000b82462d97', 'GXP2200', '000b82462d97'],
    [grandstream, 'Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8', 'GXP2000', '000b822726c8'],
  ] as const)('%#: %s', (profile, ua, model, mac) => {
    expect(profile.parseUserAgent(ua)).toEqual({ model, mac });
    for (const other of [polycom, yealink, grandstream].filter((p) => p !== profile)) expect(other.parseUserAgent(ua)).toBeUndefined();
  });

  it('cleans MACs', () => {
    expect(cleanMac('00:15:65:4A:A9:37')).toBe('0015654aa937');
    expect(cleanMac('00-15-65-4a-a9-37')).toBe('0015654aa937');
    expect(cleanMac('0015654aa93')).toBeUndefined();
  });

  it('maps Yealink models to their common file', () => {
    const common = yealink.files.find((f) => !f.perDevice)!;
    expect(common.nameFor({ mac: '', model: 'T46S' })).toBe('y000000000066.cfg');
    expect(common.nameFor({ mac: '', model: 'T43U' })).toBe('y000000000107.cfg');
    expect(common.nameFor({ mac: '', model: 'NOPE' })).toBeUndefined();
    expect(common.acceptCommon!('000000000028')).toEqual({ model: 'T46G' });
    expect(common.acceptCommon!('000000000001')).toBeUndefined();
  });
});

describe('time zones', () => {
  it('derives offsets and DST rules from the tz database', () => {
    const ny = timezoneInfo('America/New_York', 2025)!;
    expect(ny.standardOffsetSeconds).toBe(-18000);
    expect(ny.dst).toMatchObject({ offsetSeconds: 3600, start: { month: 3, week: 2, dayOfWeek: 0, hour: 2 }, end: { month: 11, week: 1, dayOfWeek: 0, hour: 2 } });
    const berlin = timezoneInfo('Europe/Berlin', 2025)!;
    expect(berlin.dst).toMatchObject({ start: { month: 3, week: 5, hour: 2 }, end: { month: 10, week: 5, hour: 3 } });
    expect(timezoneInfo('Asia/Kolkata', 2025)!.standardOffsetSeconds).toBe(19800);
    expect(timezoneInfo('Asia/Kolkata', 2025)!.dst).toBeUndefined();
    expect(timezoneInfo('Not/AZone')).toBeUndefined();
  });

  it('writes Grandstream POSIX TZ strings', () => {
    const v = (tz: string) =>
      grandstream.variables({
        mac: '', account: { id: '', name: '', realm: '' }, device: { id: '', name: '' }, model: '', family: '',
        sip: { server: '', username: '', password: '', expireSeconds: 300 }, displayName: '', lines: [], codecs: [], comboKeys: [], featureKeys: [],
        lineKeys: [], bankKeys: [], expansionKeys: [], directory: [], settings: buildInputSettings(),
        ringtones: { internal: '', external: '' }, timezone: timezoneInfo(tz, 2025), language: '', mwiUnsolicited: true, voicemailNumber: '*97',
      }).timezone;
    // Named zones with the DST offset written, as the phone's own menu and both peers (vendor-peers §2 item 5).
    expect(v('America/New_York')).toBe('EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00');
    expect(v('Europe/Berlin')).toBe('CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00');
    expect(v('Asia/Kolkata')).toBe('IST-5:30');
  });
});

describe('a fourth vendor', () => {
  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('needs only a profile and its templates (the core names no vendor)', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'prov-vendor-'));
    mkdirSync(path.join(dir, 'acme'));
    writeFileSync(path.join(dir, 'acme', 'phone.cfg.hbs'), '#!version:1.0.0.1\nuser = {{sip.username}}\nexpiry = {{v.expiry}}\n');
    const acme: VendorProfile = {
      id: 'acme', brands: ['acme'], ouis: ['aaaaaa'], sampleModel: 'A1',
      files: [{
        template: 'phone.cfg', pattern: /^acme-(?<mac>[0-9a-f]{12})\.cfg$/, perDevice: true, format: 'keyvalue',
        header: '#!version:1.0.0.1', contentType: 'text/plain', nameFor: ({ mac }) => `acme-${mac}.cfg`,
      }],
      parseUserAgent: (ua) => (ua.startsWith('Acme') ? {} : undefined),
      checkSyncEvent: () => 'acme-sync',
      autoAnswerHeaders: () => ({}),
      variables: (input) => ({ expiry: input.sip.expireSeconds * 2 }),
    };
    h = await startHarness({ options: { profiles: [acme], templatesDir: dir } });
    h.dir.addDevice(ACCOUNT, { id: 'x', name: 'x', mac_address: 'aaaaaa000001', sip: { username: 'acme1', expire_seconds: 100 } });
    const res = await h.get('acme-aaaaaa000001.cfg');
    expect(res.status).toBe(200);
    expect(Object.fromEntries(readKeyValue(res.body))).toEqual({ user: 'acme1', expiry: '200' });
    expect(h.service.checkSyncEvent(ACCOUNT, 'x', false)).toBe('acme-sync');
  });
});
