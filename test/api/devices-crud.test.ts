import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let A: string;
const auth = () => ({ 'X-Auth-Token': t.master.token });

beforeAll(async () => {
  t = await startTestServer();
  A = t.master.accountId;
});
afterAll(() => t.close());

/** The create response shown in both seeds for {"data":{"name":"New Device"}} (both mwi spellings). */
const SEED_CREATE = {
  call_restriction: {},
  caller_id: {},
  contact_list: {},
  dial_plan: {},
  enabled: true,
  exclude_from_queues: false,
  media: { audio: { codecs: ['PCMU'] }, encryption: { enforce_security: false, methods: [] }, video: { codecs: [] } },
  music_on_hold: {},
  mwi_unsolicited_updates: true,
  mwi_unsolicitated_updates: true,
  name: 'New Device',
  register_overwrite_notify: false,
  ringtones: {},
  sip: { invite_format: 'username', method: 'password', registration_expiration: 300 },
  suppress_unregister_notifications: false,
};

describe('devices CRUD (seed examples)', () => {
  let deviceId: string;

  it('PUT creates with every key and value of the seed response, 201 + Location + envelope', async () => {
    const res = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).set('X-Request-ID', 'req-123').send({ data: { name: 'New Device' } });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    deviceId = res.body.data.id;
    expect(deviceId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.location).toBe(`/v2/accounts/${A}/devices/${deviceId}`);
    expect(res.body.data).toMatchObject(SEED_CREATE);
    expect(res.body.data.sip.expire_seconds).toBe(300);
    expect(res.body).toMatchObject({ auth_token: t.master.token, request_id: 'req-123', status: 'success' });
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.body.revision).toMatch(/^1-[0-9a-f]{32}$/);
    expect(res.body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(typeof res.body.version).toBe('string');
    // private bookkeeping never leaks
    expect(Object.keys(res.body.data).filter((k) => k.startsWith('pvt_') || k === '_rev')).toEqual([]);
  });

  it('GET fetches the same document; a request id is generated when none is sent', async () => {
    const res = await t.http().get(`/v2/accounts/${A}/devices/${deviceId}`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ ...SEED_CREATE, id: deviceId });
    expect(res.body.request_id).toMatch(/^\w{8,}$/);
    expect(res.headers.etag).toBe(`"${res.body.revision}"`);
  });

  it('POST replaces the document (seed body, with its foreign id ignored) and changes the revision', async () => {
    const before = await t.http().get(`/v2/accounts/${A}/devices/${deviceId}`).set(auth());
    const body = {
      data: {
        name: 'new device', call_restriction: {}, caller_id: {}, contact_list: {}, dial_plan: {}, enabled: true, exclude_from_queues: false,
        media: { audio: { codecs: ['PCMU'] }, encryption: { enforce_security: false, methods: [] }, video: { codecs: [] } },
        music_on_hold: {}, mwi_unsolicitated_updates: true, register_overwrite_notify: false, ringtones: {},
        sip: { invite_format: 'username', method: 'password', registration_expiration: 300 },
        suppress_unregister_notifications: false, id: '4f3330e78e664bb57f8fb23fbaac2429',
      },
    };
    const res = await t.http().post(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send(body);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ ...SEED_CREATE, name: 'new device', id: deviceId });
    expect(res.body.revision).not.toBe(before.body.revision);
    expect(res.body.revision.startsWith('2-')).toBe(true);
  });

  it('POST drops fields the body omits and re-applies defaults', async () => {
    await t.http().patch(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { language: 'fr-fr', enabled: false } });
    const res = await t.http().post(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { name: 'new device' } });
    expect(res.body.data.language).toBeUndefined();
    expect(res.body.data.enabled).toBe(true);
  });

  it('PATCH deep-merges (seed presence_id), null deletes a key, other sip keys survive', async () => {
    await t.http().patch(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { sip: { username: 'user_1', password: 'secret99' } } });
    const res = await t.http().patch(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { presence_id: 'dis_my_device' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ ...SEED_CREATE, name: 'new device', presence_id: 'dis_my_device', id: deviceId });
    expect(res.body.data.sip).toMatchObject({ username: 'user_1', password: 'secret99', invite_format: 'username' });
    const cleared = await t.http().patch(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { presence_id: null, sip: { password: null } } });
    expect(cleared.body.data.presence_id).toBeUndefined();
    expect(cleared.body.data.sip.password).toBeUndefined();
    expect(cleared.body.data.sip.username).toBe('user_1');
  });

  it('PATCH without a Content-Type (curl -d default form) still parses the JSON body', async () => {
    const res = await t
      .http()
      .patch(`/v2/accounts/${A}/devices/${deviceId}`)
      .set(auth())
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send('{"data":{"custom":"value"}}');
    expect(res.status).toBe(200);
    expect(res.body.data.custom).toBe('value');
  });

  it('keeps both spellings of the renamed keys equal, whichever one a write changes', async () => {
    let res = await t.http().patch(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { mwi_unsolicitated_updates: false } });
    expect(res.body.data.mwi_unsolicited_updates).toBe(false);
    expect(res.body.data.mwi_unsolicitated_updates).toBe(false);
    res = await t.http().patch(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { sip: { expire_seconds: 600 } } });
    expect(res.body.data.sip.registration_expiration).toBe(600);
    // a GET -> edit one -> POST round trip: the edited key wins over the echoed old twin
    const doc = res.body.data;
    doc.sip.registration_expiration = 120;
    res = await t.http().post(`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: doc });
    expect(res.body.data.sip.expire_seconds).toBe(120);
    expect(res.body.data.sip.registration_expiration).toBe(120);
    const conflict = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'x', sip: { expire_seconds: 60, registration_expiration: 90 } } });
    expect(conflict.status).toBe(400);
    expect(conflict.body.data['sip.registration_expiration']).toBeDefined();
  });

  it('authn-by-ip device from the seed', async () => {
    const res = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { enabled: true, name: 'authn_by_ip', sip: { invite_format: 'e164', ip: '10.1.2.3', method: 'ip' } } });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ name: 'authn_by_ip', sip: { invite_format: 'e164', ip: '10.1.2.3', method: 'ip', registration_expiration: 300 } });
  });

  it('DELETE returns the deleted device; afterwards it is a 404 bad_identifier with cause', async () => {
    const res = await t.http().delete(`/v2/accounts/${A}/devices/${deviceId}`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(deviceId);
    expect(res.body.data.name).toBe('new device');
    for (const verb of ['get', 'post', 'patch', 'delete'] as const) {
      const gone = await t.http()[verb](`/v2/accounts/${A}/devices/${deviceId}`).set(auth()).send({ data: { name: 'x' } });
      expect(gone.status).toBe(404);
      expect(gone.body).toMatchObject({ error: '404', message: 'bad_identifier', status: 'error', data: { cause: deviceId, message: 'bad identifier' } });
    }
  });

  it('honours a client-chosen id and refuses a duplicate with 409', async () => {
    const id = 'a'.repeat(32);
    const first = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { id, name: 'chosen' } });
    expect(first.status).toBe(201);
    expect(first.body.data.id).toBe(id);
    const again = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { id, name: 'chosen' } });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('datastore_conflict');
  });

  it('PUT /devices/{id} without an action is 400 action required; stale If-Match is 412', async () => {
    const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'etag' } });
    const id = made.body.data.id;
    const action = await t.http().put(`/v2/accounts/${A}/devices/${id}`).set(auth()).send({ data: {} });
    expect(action.status).toBe(400);
    expect(action.body.message).toBe('action required');
    const ok = await t.http().patch(`/v2/accounts/${A}/devices/${id}`).set(auth()).set('If-Match', `"${made.body.revision}"`).send({ data: { language: 'en' } });
    expect(ok.status).toBe(200);
    const stale = await t.http().patch(`/v2/accounts/${A}/devices/${id}`).set(auth()).set('If-Match', `"${made.body.revision}"`).send({ data: { language: 'de' } });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ error: '412', status: 'error' });
    const after = await t.http().get(`/v2/accounts/${A}/devices/${id}`).set(auth());
    expect(after.body.data.language).toBe('en');
  });
});
