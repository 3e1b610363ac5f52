import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { readGrandstream, readKeyValue, readPolycom } from '../provision/support/readers.js';
import { productionParts } from '../../src/parts.js';
import { compileTemplate, TemplateError } from '../../src/provision/templates.js';
import { declaredVendorParams } from '../../src/provision/declared-params.js';

/**
 * vendor_params (issue 9 §4): an UNCONFIRMED value is an account/device setting whose default is the peers' value.
 * Set through /v2, rendered through {{vparam}}, parsed back with the independent readers.
 */
let t: TestServer;
const ids: Record<string, string> = {};
const auth = () => ({ 'X-Auth-Token': t.master.token });
const colons = (mac: string) => mac.match(/../g)!.join(':');

const PHONES = {
  yealink: { mac: '001565600101', provision: { endpoint_brand: 'yealink', endpoint_model: 'W60B' } },
  polycom: { mac: '0004f2600101', provision: { endpoint_brand: 'polycom', endpoint_model: 'VVX400' } },
  grandstream: { mac: '000b82600101', provision: { endpoint_brand: 'grandstream', endpoint_model: 'GXP2135' } },
};

beforeAll(async () => {
  t = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'none', SIP_PORT: '5070' } });
  let n = 0;
  for (const [vendor, { mac, provision }] of Object.entries(PHONES)) {
    const res = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({
      data: { name: `VP ${mac}`, mac_address: colons(mac), sip: { username: `vp${++n}`, password: `vp-sip-pw-${n}` }, provision },
    });
    expect(res.status).toBe(201);
    ids[vendor] = res.body.data.id;
  }
});
afterAll(() => t.close());

const patchAccount = (settings: unknown) => t.http().patch(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { provisioning: { settings } } });

async function yealinkDect(mac = PHONES.yealink.mac) {
  const res = await t.http().get(`/provision/${mac}.cfg`).set('User-Agent', `Yealink W60B 77.83.0.85 ${colons(mac)}`);
  expect(res.status).toBe(200);
  return readKeyValue(res.text);
}
async function polycom(mac = PHONES.polycom.mac) {
  const res = await t.http().get(`/provision/${mac}-user.cfg`).set('User-Agent', `FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:${mac}) Type/Application`);
  expect(res.status).toBe(200);
  return (await readPolycom(res.text)).params;
}
async function grandstream(mac = PHONES.grandstream.mac) {
  const res = await t.http().get(`/provision/cfg${mac}.xml`).set('User-Agent', `Grandstream Model HW GXP2135 SW 1.0.7.97 DevId ${mac}`);
  expect(res.status).toBe(200);
  return (await readGrandstream(res.text)).p;
}

describe('vendor_params: an account value replaces the peers\' default', () => {
  it('one parameter per vendor: default first, then the account value in the phone\'s file', async () => {
    expect((await yealinkDect()).get('account.1.dnd.enable')).toBe('0');
    expect((await polycom()).get('nat.keepalive.interval')).toBe('30');
    expect((await grandstream()).get('P52')).toBe('2');

    const patch = await patchAccount({
      vendor_params: { yealink: { 'account.1.dnd.enable': '1' }, polycom: { 'nat.keepalive.interval': '45' }, grandstream: { P52: '1' } },
    });
    expect(patch.status).toBe(200);
    expect(patch.body.data.provisioning.settings.vendor_params.polycom).toEqual({ 'nat.keepalive.interval': '45' });

    expect((await yealinkDect()).get('account.1.dnd.enable')).toBe('1');
    expect((await polycom()).get('nat.keepalive.interval')).toBe('45');
    expect((await grandstream()).get('P52')).toBe('1');
    await patchAccount(null).expect(200);
    expect((await polycom()).get('nat.keepalive.interval')).toBe('30');
  });

  it('a device value wins over its account\'s, parameter by parameter', async () => {
    await patchAccount({ vendor_params: { polycom: { 'nat.keepalive.interval': '45', 'dir.local.readonly': '0' } } }).expect(200);
    const id = ids.polycom!;
    const dev = await t.http().patch(`/v2/accounts/${t.master.accountId}/devices/${id}`).set(auth()).send({
      data: { provision: { ...PHONES.polycom.provision, settings: { vendor_params: { polycom: { 'nat.keepalive.interval': '60' } } } } },
    });
    expect(dev.status).toBe(200);
    const p = await polycom();
    expect(p.get('nat.keepalive.interval')).toBe('60'); // device
    expect(p.get('dir.local.readonly')).toBe('0'); // account: the device did not set it
    await t.http().patch(`/v2/accounts/${t.master.accountId}/devices/${id}`).set(auth()).send({ data: { provision: { ...PHONES.polycom.provision, settings: null } } }).expect(200);
    await patchAccount(null).expect(200);
  });
});

describe('vendor_params: only declared parameters, only safe values', () => {
  it('a parameter no template declares is a 400 naming it; so is an unknown vendor', async () => {
    const bad = await patchAccount({ vendor_params: { yealink: { 'static.security.user_password': 'admin:x' }, acme: { foo: '1' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('400');
    const err = bad.body.data['provisioning.settings.vendor_params.yealink.static%2Esecurity%2Euser_password'];
    expect(err.invalid.message).toContain('static.security.user_password');
    expect(err.invalid.target).toContain('account.1.dnd.enable');
    expect(bad.body.data['provisioning.settings.vendor_params.acme'].invalid.message).toContain('acme');

    const dev = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({
      data: { name: 'VP bad', mac_address: '00:15:65:60:01:99', provision: { ...PHONES.yealink.provision, settings: { vendor_params: { polycom: { 'reg.1.auth.password': 'x' } } } } },
    });
    expect(dev.status).toBe(400);
    expect(dev.body.data['provision.settings.vendor_params.polycom.reg%2E1%2Eauth%2Epassword']).toHaveProperty('invalid');
  });

  it('values with a newline, a quote or an angle bracket, bad names and oversize maps are refused by the schema', async () => {
    for (const value of ['30\nstatic.security.user_password = admin:pwned', '30"', "30'", '<x/>', '1&amp;', 'x'.repeat(257)]) {
      const res = await patchAccount({ vendor_params: { polycom: { 'nat.keepalive.interval': value } } });
      expect(res.status, JSON.stringify(value)).toBe(400);
      expect(Object.keys(res.body.data)).toEqual(['provisioning.settings.vendor_params.polycom.nat%2Ekeepalive%2Einterval']);
    }
    const badName = await patchAccount({ vendor_params: { polycom: { 'nat keepalive': '1' } } });
    expect(badName.status).toBe(400);
    expect(badName.body.data['provisioning.settings.vendor_params.polycom.nat keepalive']).toHaveProperty('additionalProperties');
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, '1']));
    expect((await patchAccount({ vendor_params: { polycom: many } })).status).toBe(400);
    expect((await patchAccount({ vendor_params: { polycom: { 'nat.keepalive.interval': 30 } } })).status).toBe(400);
    expect((await polycom()).get('nat.keepalive.interval')).toBe('30');
  });
});

describe('vparam declarations are collected at compile time', () => {
  it('the shipped templates declare the UNCONFIRMED parameters of each vendor', () => {
    const declared = declaredVendorParams();
    const grandstream = [...declared.get('grandstream')!].sort();
    expect(grandstream.filter((n) => /^P\d+$/.test(n))).toEqual(['P183', 'P191', 'P2301', 'P2302', 'P2303', 'P2344', 'P2345', 'P26013', 'P26014', 'P285', 'P330', 'P332', 'P4200', 'P52', 'P6767']);
    // Config v2 (GRP261x): every alias item with one source behind it, outside the key loops (plus the VPK account form).
    expect(grandstream.filter((n) => !/^P\d+$/.test(n))).toEqual([
      'account.1.audio.srtpMode', ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => `account.1.codec.choice.${n}`),
      ...['callForwardUnconditionallyOff', 'callForwardUnconditionallyOn', 'dndOff', 'dndOn'].map((c) => `account.1.featureCodes.${c}`), 'account.1.network.dnsMode',
      'account.1.network.natTraversal', 'account.1.ring.match.1.callerId', 'account.1.ring.match.1.ringtone', 'account.1.ring.match.2.callerId',
      'account.1.ring.match.2.ringtone', 'account.1.sip.outboundProxy.1.address', 'account.1.sip.registerExpiration',
      'account.1.sip.registrationFailureRetryWaitTime', 'account.1.sip.subscribe.forMwi', 'call.callWaiting.enable', 'maintain.syslog.level',
      'maintain.syslog.server', 'network.port.eth.1.vlan.enable', 'phonebook.download.interval', 'phonebook.download.mode',
      'phonebook.download.server', 'pks.vpk.account', 'provisioning.auto.minute', 'provisioning.auto.mode', 'provisioning.config.protocol',
      'provisioning.config.serverPath', 'provisioning.firmware.protocol', 'provisioning.firmware.serverPath', 'sip.keepAliveInterval',
    ]);
    expect(declared.get('polycom')).toContain('device.syslog.transport');
    expect(declared.get('yealink')).toContain('static.syslog.mode');
  });

  it('a name that is not a literal, or a call without a default, does not compile', () => {
    expect(() => compileTemplate('a = {{vparam name "1"}}\n', 'keyvalue')).toThrow(TemplateError);
    expect(() => compileTemplate('a = {{vparam "a"}}\n', 'keyvalue')).toThrow(/default/);
    expect(() => compileTemplate('a = {{vparam "bad name" "1"}}\n', 'keyvalue')).toThrow(/literal parameter name/);
    expect([...compileTemplate('a = {{vparam "a.b" "1"}}\nb = {{vparam "c" x}}\n', 'keyvalue').vendorParams!.keys()]).toEqual(['a.b', 'c']);
  });

  it('an XML template escapes the value anyway (a value that bypassed the schema cannot end the attribute)', () => {
    const fn = compileTemplate('<x a="{{vparam "a" "1"}}"/>', 'xml');
    expect(fn({ vendor: 'polycom', settings: { vendorParams: { polycom: { a: '"/><evil' } } } })).toBe('<x a="&quot;/&gt;&lt;evil"/>');
    expect(fn({ vendor: 'yealink', settings: { vendorParams: { polycom: { a: '2' } } } })).toBe('<x a="1"/>');
  });
});
