import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

/**
 * Kazoo's deletes are soft: the DELETE answer carries `_read_only.deleted: true`, a GET then 404s, and the id is
 * never given out again (a PUT naming it conflicts), also after a restart.
 */
let t: TestServer;
let dataDir = '';
const auth = () => ({ 'X-Auth-Token': t.master.token });
const A = () => t.master.accountId;

beforeAll(async () => {
  dataDir = await tempDir();
  t = await startTestServer({ dataDir });
});
afterAll(async () => {
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('soft delete', () => {
  it('device: DELETE says _read_only.deleted, GET 404s, the client id is never reused (also after a restart)', async () => {
    const made = await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: 'gone', id: 'myid456', mac_address: '001565aabb55' } });
    expect(made.status, made.text).toBe(201);
    const del = await t.http().delete(`/v2/accounts/${A()}/devices/myid456`).set(auth());
    expect(del.status).toBe(200);
    expect(del.body.data).toMatchObject({ id: 'myid456', name: 'gone', _read_only: { deleted: true } });
    const got = await t.http().get(`/v2/accounts/${A()}/devices/myid456`).set(auth());
    expect(got.status).toBe(404);
    expect(got.body.message).toBe('bad_identifier');
    const again = await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: 'again', id: 'myid456' } });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('datastore_conflict');
    // the deleted device's unique keys are free again
    const mac = await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: 'new', mac_address: '00:15:65:aa:bb:55' } });
    expect(mac.status, mac.text).toBe(201);
    const list = await t.http().get(`/v2/accounts/${A()}/devices?paginate=false`).set(auth());
    expect(list.body.data.map((r: { id: string }) => r.id)).not.toContain('myid456');

    await t.close();
    t = await startTestServer({ dataDir });
    expect((await t.http().get(`/v2/accounts/${A()}/devices/myid456`).set(auth())).status).toBe(404);
    const afterRestart = await t.http().put(`/v2/accounts/${A()}/devices`).set(auth()).send({ data: { name: 'again', id: 'myid456' } });
    expect(afterRestart.status).toBe(409);
  });

  it('user and account: DELETE says _read_only.deleted and the id stays taken', async () => {
    const uid = 'aa'.repeat(16);
    const made = await t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { id: uid, first_name: 'Del', last_name: 'User' } });
    expect(made.status, made.text).toBe(201);
    const del = await t.http().delete(`/v2/accounts/${A()}/users/${uid}`).set(auth());
    expect(del.body.data).toMatchObject({ id: uid, _read_only: { deleted: true } });
    expect((await t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { id: uid, first_name: 'X', last_name: 'Y' } })).status).toBe(409);

    const aid = 'bb'.repeat(16);
    const child = await t.http().put(`/v2/accounts/${A()}`).set(auth()).send({ data: { id: aid, name: 'Child' } });
    expect(child.status, child.text).toBe(201);
    const gone = await t.http().delete(`/v2/accounts/${aid}`).set(auth());
    expect(gone.body.data).toMatchObject({ id: aid, _read_only: { deleted: true } });
    expect((await t.http().put(`/v2/accounts/${A()}`).set(auth()).send({ data: { id: aid, name: 'Child' } })).status).toBe(409);
  });
});
