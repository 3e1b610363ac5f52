import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Kazoo 4.3's schemas (kazoo-clients.md §2): users and accounts cover every Kazoo key with its constraints;
 * devices validate formatters, metaflow entries and sip.custom_sip_headers as Kazoo does.
 */
let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const A = () => t.master.accountId;
let n = 0;
const user = (data: Record<string, unknown>) => t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { first_name: 'F', last_name: 'L', ...data } });
const account = (data: Record<string, unknown>) => t.http().put(`/v2/accounts/${A()}`).set(auth()).send({ data: { name: `acc${n++}`, ...data } });
const device = (data: Record<string, unknown>) => t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: `dev${n++}`, ...data } });

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

describe('users', () => {
  it('refuses what Kazoo refuses: username pattern, email format and length, hotdesk.id length, enums', async () => {
    expect((await user({ username: 'has space' })).body.data.username.pattern).toBeDefined();
    expect((await user({ email: 'no-at-sign' })).body.data.email.format).toBeDefined();
    expect((await user({ email: 'a@' })).body.data.email).toBeDefined();
    expect((await user({ hotdesk: { id: '1234567890123456' } })).body.data['hotdesk.id'].maxLength).toBeDefined();
    expect((await user({ caller_id_options: { outbound_privacy: 'all' } })).body.data['caller_id_options.outbound_privacy'].enum).toBeDefined();
    expect((await user({ call_forward: { number: '1'.repeat(36) } })).body.data['call_forward.number'].maxLength).toBeDefined();
  });

  it('accepts and keeps Kazoo keys, with Kazoo defaults', async () => {
    const res = await user({
      username: 'ann.lee+desk@example.com',
      email: 'ann@example.com',
      call_forward: { enabled: true, number: '5551234' },
      caller_id_options: { outbound_privacy: 'name' },
      directories: { d1: 'cf1' },
      pronounced_name: { media_id: 'm1' },
      formatters: { caller_id_number: { regex: '^\\+1(\\d{10})$', direction: 'inbound' } },
      metaflows: { numbers: { '2': { module: 'transfer', data: {} } } },
      feature_level: 'basic',
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data).toMatchObject({ vm_to_email_enabled: true, verified: false, require_password_update: false, call_forward: { enabled: true, substitute: true }, directories: { d1: 'cf1' } });
  });
});

describe('accounts', () => {
  it('realm pattern and timezone length as Kazoo', async () => {
    expect((await account({ realm: 'odd:5060.test' })).body.data.realm.pattern).toBeDefined();
    expect((await account({ timezone: 'UTC' })).body.data.timezone.minLength).toBeDefined();
    expect((await account({ timezone: 'America/Argentina/ComodRivadavia+' })).body.data.timezone.maxLength).toBeDefined();
    expect((await account({ preflow: { sometimes: 'x' } })).body.data['preflow.sometimes'].additionalProperties).toBeDefined();
  });

  it('keeps Kazoo account keys', async () => {
    const res = await account({ timezone: 'America/New_York', org: 'Example Ltd', notifications: { low_balance: { threshold: 5 } }, zones: { home: 'z1' }, call_recording: { account: { any: { any: { enabled: true } } } } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data).toMatchObject({ org: 'Example Ltd', notifications: { low_balance: { threshold: 5, enabled: true } }, zones: { home: 'z1' }, preflow: {} });
  });
});

describe('devices', () => {
  it('formatters are validated', async () => {
    expect((await device({ formatters: { caller_id_number: [{ regex: '^(\\d+)$', prefix: '+1', direction: 'both' }] } })).status).toBe(201);
    const bad = await device({ formatters: { caller_id_number: { direction: 'sideways' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.data['formatters.caller_id_number']).toBeDefined();
    expect((await device({ formatters: { callee: { strip: 'yes' } } })).status).toBe(400);
  });

  it('metaflow entries need a module of 1-64 characters, object data and children', async () => {
    expect((await device({ metaflows: { numbers: { '1': { module: 'park', data: { action: 'park' }, children: { _: { module: 'hangup' } } } } } })).status).toBe(201);
    const noModule = await device({ metaflows: { numbers: { '1': { data: {} } } } });
    expect(noModule.body.data['metaflows.numbers.1.module'].required).toBeDefined();
    expect((await device({ metaflows: { patterns: { '^2(\\d+)$': { module: 'm'.repeat(65) } } } })).body.data['metaflows.patterns.^2(\\d+)$.module'].maxLength).toBeDefined();
    expect((await device({ metaflows: { numbers: { '1': { module: 'x', data: 'no' } } } })).body.data['metaflows.numbers.1.data'].type).toBeDefined();
    expect((await device({ metaflows: { numbers: { '1': { module: 'x', children: { a: { data: {} } } } } } })).body.data['metaflows.numbers.1.children.a.module'].required).toBeDefined();
  });

  it('sip.custom_sip_headers: in/out or flat, header names, string values', async () => {
    expect((await device({ sip: { custom_sip_headers: { in: { 'X-In': 'a' }, out: { 'X-Out': 'b' } } } })).status).toBe(201);
    expect((await device({ sip: { custom_sip_headers: { 'X-Flat': 'c' } } })).status).toBe(201);
    expect((await device({ sip: { custom_sip_headers: { 'X-Num': 5 } } })).body.data['sip.custom_sip_headers.X-Num'].type).toBeDefined();
    expect((await device({ sip: { custom_sip_headers: { 'bad header': 'x' } } })).body.data['sip.custom_sip_headers.bad header'].additionalProperties).toBeDefined();
    expect((await device({ sip: { custom_sip_headers: { in: { 'X-A': { nested: 1 } } } } })).status).toBe(400);
  });
});
