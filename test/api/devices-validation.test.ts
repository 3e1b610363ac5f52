import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChildAccount, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';

let t: TestServer;
let A: string;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const put = (data: unknown, account = A) => t.http().put(`/v2/accounts/${account}/devices`).set(auth()).send({ data });

beforeAll(async () => {
  t = await startTestServer();
  A = t.master.accountId;
});
afterAll(() => t.close());

describe('device validation in Kazoo shape', () => {
  it('missing name', async () => {
    const res = await put({});
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: '400',
      message: 'validation error',
      status: 'error',
      data: { name: { required: { message: 'Field is required but missing', value: 'name' } } },
    });
  });

  it('reports every error of a request at once, with dotted paths', async () => {
    const res = await put({
      name: 'x'.repeat(129),
      media: { audio: { codecs: ['FOO'] } },
      sip: { method: 'carrier-pigeon', password: 'abc' },
      enabled: 'maybe',
      provision: { feature_keys: { '1': { type: 'teleport', value: '1' } } },
    });
    expect(res.status).toBe(400);
    const d = res.body.data;
    expect(d.name.maxLength).toMatchObject({ message: 'String must not be more than 128 characters', target: 128 });
    expect(d['media.audio.codecs.0'].enum).toMatchObject({ message: 'Value not found in enumerated list of values', value: 'FOO' });
    expect(d['sip.method'].enum.target).toEqual(['password', 'ip']);
    expect(d['sip.password'].minLength.target).toBe(5);
    expect(d.enabled.type).toMatchObject({ message: 'Value did not match type(s): boolean', value: 'maybe' });
    expect(d['provision.feature_keys.1.type'].enum).toBeDefined();
    // nothing was stored
    const list = await t.http().get(`/v2/accounts/${A}/devices`).set(auth());
    expect(list.body.data.find((r: { name: string }) => r.name.startsWith('xxx'))).toBeUndefined();
  });

  it('coerces "300" and "true" like Kazoo and stores the coerced value', async () => {
    const res = await put({ name: 'coerce', enabled: 'false', sip: { expire_seconds: '600' } });
    expect(res.status).toBe(201);
    expect(res.body.data.enabled).toBe(false);
    expect(res.body.data.sip.expire_seconds).toBe(600);
    expect(res.body.data.sip.registration_expiration).toBe(600);
  });

  it('cleanses MACs in every notation, rejects anything else, and keeps them unique across accounts', async () => {
    const forms = ['00:04:F2:AB:7E:FD', '00-04-f2-ab-7e-fe', '0004.f2ab.7eff'];
    const expected = ['0004f2ab7efd', '0004f2ab7efe', '0004f2ab7eff'];
    for (const [i, mac] of forms.entries()) {
      const res = await put({ name: `mac${i}`, mac_address: mac });
      expect(res.status).toBe(201);
      expect(res.body.data.mac_address).toBe(expected[i]);
    }
    for (const bad of ['zz', '0004f2ab7e', '0004f2ab7efd00', 'g0:04:f2:ab:7e:fd']) {
      const res = await put({ name: 'bad mac', mac_address: bad });
      expect(res.status).toBe(400);
      expect(res.body.data.mac_address.invalid.cause).toBe(bad);
    }
    const child = await createChildAccount(t, t.master.token, A, 'other');
    const dup = await put({ name: 'dup', mac_address: '0004F2AB7EFD' }, child.id);
    expect(dup.status).toBe(400);
    expect(dup.body.data.mac_address.unique).toEqual({ message: 'MAC address already in use', cause: '0004f2ab7efd' });
  });

  it('sip.username is unique per account, case-insensitively; other accounts may reuse it', async () => {
    expect((await put({ name: 'u1', sip: { username: 'Alice', password: 'pass1234' } })).status).toBe(201);
    const dup = await put({ name: 'u2', sip: { username: 'alice', password: 'pass1234' } });
    expect(dup.status).toBe(400);
    expect(dup.body.data['sip.username'].unique).toEqual({ message: 'SIP credentials already in use', cause: 'alice' });
    const child = await createChildAccount(t, t.master.token, A, 'reuse');
    expect((await put({ name: 'u3', sip: { username: 'alice', password: 'pass1234' } }, child.id)).status).toBe(201);
  });

  it('uniqueness and schema errors come together in one answer', async () => {
    const res = await put({ name: '', sip: { username: 'ALICE' } });
    expect(Object.keys(res.body.data).sort()).toEqual(['name', 'sip.username']);
  });

  it('sip.ip must be a valid IPv4 and unique when sip.method is ip', async () => {
    const missing = await put({ name: 'ip0', sip: { method: 'ip' } });
    expect(missing.body.data['sip.ip'].type.message).toBe('Must be a valid IPv4 RFC 791');
    const bad = await put({ name: 'ip1', sip: { method: 'ip', ip: '300.1.1.1' } });
    expect(bad.body.data['sip.ip'].type.cause).toBe('300.1.1.1');
    expect((await put({ name: 'ip2', sip: { method: 'ip', ip: '192.0.2.10' } })).status).toBe(201);
    const dup = await put({ name: 'ip3', sip: { method: 'ip', ip: '192.0.2.10' } });
    expect(dup.body.data['sip.ip'].unique.message).toBe('SIP IP already in use');
  });

  it('owner_id must be a user of the account', async () => {
    const res = await put({ name: 'owned', owner_id: 'f'.repeat(32) });
    expect(res.status).toBe(400);
    expect(res.body.data.owner_id).toBeDefined();
    const ok = await put({ name: 'owned', owner_id: t.master.userId });
    expect(ok.status).toBe(201);
  });

  it('device_type may only be changed with the master account token', async () => {
    const child = await createChildAccount(t, t.master.token, A, 'typed');
    const childToken = await tokenFor(t, t.master.token, child.id);
    const made = await t.http().put(`/v2/accounts/${child.id}/devices`).set('X-Auth-Token', childToken).send({ data: { name: 'softphone', device_type: 'softphone' } });
    const id = made.body.data.id;
    const denied = await t.http().patch(`/v2/accounts/${child.id}/devices/${id}`).set('X-Auth-Token', childToken).send({ data: { device_type: 'fax' } });
    expect(denied.status).toBe(400);
    expect(denied.body.data.device_type.invalid.message).toBe('Not authorized to change type of device');
    const allowed = await t.http().patch(`/v2/accounts/${child.id}/devices/${id}`).set(auth()).send({ data: { device_type: 'fax' } });
    expect(allowed.status).toBe(200);
  });

  it('strips a realm equal to the account realm and null feature keys; outbound_flags object becomes []', async () => {
    const res = await put({
      name: 'prep',
      sip: { realm: 'MASTER.test', username: 'prep1', password: 'secret1' },
      provision: { feature_keys: { '0': { type: 'speed_dial', value: '100' }, '1': null } },
      outbound_flags: { static: ['a'] },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.sip.realm).toBeUndefined();
    expect(res.body.data.provision.feature_keys).toEqual({ '0': { type: 'speed_dial', value: '100' } });
    expect(res.body.data.outbound_flags).toEqual([]);
  });
});
