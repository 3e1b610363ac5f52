import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type request from 'supertest';
import { createProvisioning } from '../../src/provision/index.js';
import { createSipPart } from '../../src/sip/wiring.js';
import type { EmbeddedSipService } from '../../src/sip/embedded.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sipp } from './helpers/sipp.js';

/**
 * Monster UI (core, SmartPBX devices tab and dialog, users app) and kazoo-php-sdk, replayed call by call as
 * kazoo-clients.md §3 lists them: jquery.kazoosdk's headers, jQuery's `_=` cache-buster on every GET and
 * `data.ui_metadata` on every write; each answer is read the way the client's code reads it. A real SIPp phone
 * registers for the restart. SIPp ports 25000–25099 here; phones on 127.0.0.56+.
 */
const UI_METADATA = { version: '4.3-139', ui: 'monster-ui', origin: 'voip' };
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Monster parses an error body only when the type is exactly application/json (jquery.kazoosdk.js, monster.js). */
function monsterErrorPayload(res: request.Response): { data: Record<string, unknown>; error: string; message: string } {
  if (res.headers['content-type'] !== 'application/json') throw new Error(`Monster would hand on the raw jqXHR: content-type ${res.headers['content-type']}`);
  return JSON.parse(res.text);
}

describe('Monster UI and kazoo-php-sdk, replayed', () => {
  let t: TestServer;
  let sipRemote = '';
  let cacheBuster = 1_700_000_000_000;
  let token = '';
  let A = '';
  let U = '';
  let realm = '';

  beforeAll(async () => {
    t = await startTestServer({
      env: { SIP_BACKEND: 'embedded', SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0', SIP_MIN_EXPIRES: '1' },
      parts: {
        provisioning: ({ config, log, store, events }) => createProvisioning({ config, log, directory: store, events }),
        sip: (ctx) => createSipPart(ctx),
      },
    });
    sipRemote = `127.0.0.1:${(t.server.sip as EmbeddedSipService).address()!.port}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** jquery.kazoosdk.js: JSON in and out, the token header, `_=` on GETs, ui_metadata in every write's data. */
  const monster = (method: 'get' | 'put' | 'post' | 'patch' | 'delete', path: string, data?: Record<string, unknown>) => {
    const url = method === 'get' ? `${path}${path.includes('?') ? '&' : '?'}_=${cacheBuster++}` : path;
    let req = t.http()[method](`/v2${url}`).set('Content-Type', 'application/json').set('Accept', 'application/json, text/javascript, */*; q=0.01');
    if (token) req = req.set('X-Auth-Token', token);
    return method === 'get' ? req : req.send(JSON.stringify({ data: { ...(data ?? {}), ui_metadata: UI_METADATA } }));
  };

  it('login: whitelabel 404 is tolerated, a wrong password is a parsable error, user_auth then apps_store lets SmartPBX load', async () => {
    const whitelabel = await monster('get', '/whitelabel/localhost');
    expect(whitelabel.status).toBe(404);
    expect(monsterErrorPayload(whitelabel).error).toBe('404');

    const wrong = await monster('put', '/user_auth', { credentials: md5('admin:nope'), account_name: 'Master' });
    expect(wrong.status).toBe(401);
    // auth/app.js reads errorPayload.data.hasOwnProperty(...) on a failed login
    expect(typeof monsterErrorPayload(wrong).data).toBe('object');

    const login = await monster('put', '/user_auth', { credentials: md5('admin:admin-pass'), account_name: 'Master' });
    expect(login.status, login.text).toBe(201);
    expect(login.headers['content-type']).toBe('application/json');
    token = login.body.auth_token;
    A = login.body.data.account_id;
    U = login.body.data.owner_id;
    expect(token).toBeTruthy();
    expect(login.body.data).toMatchObject({ account_id: t.master.accountId, is_reseller: true, language: 'en-us' });

    expect((await monster('get', `/accounts/${A}/external_numbers`)).status).toBe(404); // tolerated
    const account = await monster('get', `/accounts/${A}`);
    realm = account.body.data.realm;
    const user = await monster('get', `/accounts/${A}/users/${U}`);
    expect(user.body.data.priv_level).toBe('admin');
    // fatal on error: Monster logs out unless this succeeds
    const apps = await monster('get', `/accounts/${A}/apps_store`);
    expect(apps.status).toBe(200);
    // monster.util.isUserPermittedApp: 'all', or 'admins' for an admin, or 'specific' listing the user
    const permitted = apps.body.data.filter((app: { allowed_users?: string; users?: Array<{ id: string }> }) =>
      app.allowed_users === 'all' || (app.allowed_users === 'admins' && user.body.data.priv_level === 'admin') || (app.allowed_users === 'specific' && app.users?.some((u) => u.id === U)),
    );
    expect(permitted.map((app: { name: string }) => app.name)).toContain('voip');
    expect((await monster('get', '/about')).body.data.version).toBeTruthy();
  });

  let D = '';
  let offline = '';

  it('devices tab and the device dialog: every call it waits for succeeds', async () => {
    expect((await monster('get', `/accounts/${A}/users?paginate=false`)).body.data.some((u: { id: string }) => u.id === U)).toBe(true);
    const list = await monster('get', `/accounts/${A}/devices?with_status=true&paginate=false`);
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body.data)).toBe(true);
    // devicesGetEditData: monster.parallel of these; the dialog opens only if all succeed
    const classifiers = await monster('get', `/accounts/${A}/phone_numbers/classifiers`);
    const numbers = await monster('get', `/accounts/${A}/phone_numbers?filter_state=${encodeURIComponent('["in_service","port_in"]')}&paginate=false`);
    const limits = await monster('get', `/accounts/${A}/limits`);
    const endpointConfig = await monster('get', `/accounts/${A}/configs/kazoo_endpoint`);
    const callflows = await monster('get', `/accounts/${A}/callflows?paginate=false`);
    for (const [name, res] of Object.entries({ classifiers, numbers, limits, endpointConfig, callflows })) expect(res.status, name).toBe(200);
    expect(Object.keys(numbers.body.data.numbers)).toEqual([]);
    expect(typeof classifiers.body.data).toBe('object');
  });

  it('add a sip_device with the dialog defaults (devicesApplyDefaults), and one more that will stay offline', async () => {
    const payload = (name: string, mac: string, username: string) => ({
      device_type: 'sip_device',
      enabled: true,
      name,
      media: { audio: { codecs: ['PCMU', 'PCMA'] }, encryption: { enforce_security: false, methods: [] }, video: { codecs: [] } },
      call_restriction: {},
      mac_address: mac,
      provision: { endpoint_brand: 'yealink', endpoint_family: 't4x', endpoint_model: 'T46S' },
      sip: { username, password: `pw-${username}`, realm },
      suppress_unregister_notifications: false,
    });
    const add = await monster('put', `/accounts/${A}/devices`, payload('Front desk', '00:15:65:aa:bb:01', 'user_front'));
    expect(add.status, add.text).toBe(201);
    D = add.body.data.id;
    expect(add.body.data).toMatchObject({ mac_address: '001565aabb01', ui_metadata: UI_METADATA });
    expect(add.body.data.sip.realm).toBeUndefined(); // equal to the account realm: dropped, as in Kazoo
    const other = await monster('put', `/accounts/${A}/devices`, payload('Back office', '00:15:65:aa:bb:02', 'user_back'));
    expect(other.status, other.text).toBe(201);
    offline = other.body.data.id;
  });

  it('edit with combo keys: the full GET document (with _read_only) sent back with changes (devicesMergeData)', async () => {
    const got = await monster('get', `/accounts/${A}/devices/${D}`);
    const doc = got.body.data;
    expect(doc._read_only).toBeDefined();
    const merged = {
      ...doc,
      caller_id: { internal: { name: 'Front', number: '2001' } },
      media: { ...doc.media, audio: { codecs: ['PCMU'] } },
      call_restriction: { international: { action: 'deny' } },
      provision: {
        ...doc.provision,
        combo_keys: { '0': { type: 'line' }, '1': { type: 'presence', value: { value: U, label: 'Admin' } }, '2': { type: 'parking', value: { value: 3, label: 'Park 3' } }, '3': null },
      },
      ignore_completed_elsewhere: false,
      owner_id: U,
    };
    const saved = await monster('post', `/accounts/${A}/devices/${D}`, merged);
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body.data.provision.combo_keys).toEqual({ '0': { type: 'line' }, '1': { type: 'presence', value: { value: U, label: 'Admin' } }, '2': { type: 'parking', value: { value: 3, label: 'Park 3' } } });
    expect(saved.body.data).toMatchObject({ owner_id: U, caller_id: { internal: { name: 'Front' } } });
  });

  it('restart: registered phone gets check-sync; an unregistered one is answered the same and kept pending', async () => {
    const reg = await sipp({ scenario: 'uac-register-digest.xml', remote: sipRemote, ip: '127.0.0.56', port: 25001, service: 'user_front', auth: { user: 'user_front', pass: 'pw-user_front' }, keys: { realm, contact_port: 25070, expires: 300 } }).done;
    expect(reg.code, reg.stderr).toBe(0);
    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.56', port: 25070, service: 'user_front' });
    const restart = await monster('post', `/accounts/${A}/devices/${D}/sync`, {});
    expect(restart.status, restart.text).toBe(200);
    expect(restart.body.data).toBe('sync request sent');
    const run = await phone.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('EVENT=check-sync');

    const off = await monster('post', `/accounts/${A}/devices/${offline}/sync`, {});
    expect(off.status, off.text).toBe(200);
    expect(off.body.data).toBe('sync request sent');
    const kept = await monster('get', `/accounts/${A}/devices/${offline}`);
    expect(kept.body.data._read_only.sip_notify).toMatchObject({ action: 'sync', state: 'pending' });
  });

  it('kazoo-php-sdk: login with realm, Device::performAction notify (202), user quickcall and hotdesks', async () => {
    const sdk = (method: 'get' | 'put', path: string, body?: unknown) => {
      const req = t.http()[method](`/v2${path}`).set('Accept', 'application/json').set('Content-Type', 'application/json');
      if (token) req.set('X-Auth-Token', token);
      return body === undefined ? req : req.send(JSON.stringify(body));
    };
    const login = await sdk('put', '/user_auth', { data: { credentials: md5('admin:admin-pass'), realm: 'master.test' } });
    expect(login.status, login.text).toBe(201);
    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.56', port: 25070, service: 'user_front' });
    const notify = await sdk('put', `/accounts/${A}/devices/${D}`, { data: { action: 'notify', data: { event: 'check-sync' } } });
    expect(notify.status, notify.text).toBe(202);
    expect(notify.body.data).toBe('NOTIFY sent');
    expect((await phone.done).logs).toContain('EVENT=check-sync ');

    const ring = sipp({ scenario: 'uas-quickcall.xml', ip: '127.0.0.56', port: 25070, service: 'user_front' });
    const call = await sdk('get', `/accounts/${A}/users/${U}/quickcall/1000`);
    const rang = await ring.done;
    expect(call.status, call.text).toBe(200);
    expect(call.body.data).toMatchObject({ application_data: { route: '1000' }, endpoints: [expect.objectContaining({ endpoint_id: D })] });
    expect(rang.code, rang.stderr).toBe(0);
    expect((await sdk('get', `/accounts/${A}/users/${U}/hotdesks`)).body.data).toEqual([]);
  });

  it('users app: unassign (owner_id null), then delete: the answer says deleted and the device is gone', async () => {
    const owned = await monster('get', `/accounts/${A}/devices?filter_owner_id=${U}&paginate=false`);
    expect(owned.body.data.map((d: { id: string }) => d.id)).toContain(D);
    const unassign = await monster('patch', `/accounts/${A}/devices/${D}`, { owner_id: null });
    expect(unassign.status, unassign.text).toBe(200);
    expect(unassign.body.data.owner_id).toBeUndefined();
    expect((await monster('get', `/accounts/${A}/devices?filter_owner_id=${U}&paginate=false`)).body.data).toEqual([]);
    expect((await monster('get', `/accounts/${A}/users/${U}/devices`)).body.data).toEqual([]);

    const del = await monster('delete', `/accounts/${A}/devices/${D}`);
    expect(del.status).toBe(200);
    expect(del.body.data._read_only.deleted).toBe(true);
    const gone = await monster('get', `/accounts/${A}/devices/${D}`);
    expect(gone.status).toBe(404);
    expect(monsterErrorPayload(gone).message).toBe('bad_identifier');
  });
});
