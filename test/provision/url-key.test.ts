import { afterEach, describe, expect, it } from 'vitest';
import { productionParts } from '../../src/parts.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { readKeyValue } from './support/readers.js';

/** provisioning.url_key: phones that cannot do HTTP auth prove themselves with a secret path segment. */

const KEY = 'k3y-Of-Acme_0123456789';
const visible = (r: { status: number; body: string; headers: Record<string, unknown> }) => ({
  status: r.status,
  body: r.body,
  headers: { ...r.headers, date: undefined },
});

describe('url_key through the accounts API and the real server', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const auth = () => ({ 'X-Auth-Token': t!.master.token });

  it('is write-only, survives a GET -> POST round trip, can be removed, and is validated', async () => {
    t = await startTestServer();
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'Keyed', provisioning: { url_key: KEY } } });
    expect(made.status).toBe(201);
    expect(JSON.stringify(made.body)).not.toContain(KEY);
    expect(made.body.data.provisioning).toEqual({ url_key_set: true });
    const id = made.body.data.id;
    const got = await t.http().get(`/v2/accounts/${id}`).set(auth());
    expect(JSON.stringify(got.body)).not.toContain(KEY);
    const children = await t.http().get(`/v2/accounts/${t.master.accountId}/children`).set(auth());
    expect(JSON.stringify(children.body)).not.toContain(KEY);

    await t.http().post(`/v2/accounts/${id}`).set(auth()).send({ data: got.body.data });
    expect(t.server.store.getAccount(id)?.provisioning?.url_key).toBe(KEY);
    expect(t.server.store.getAccount(id)?.provisioning).not.toHaveProperty('url_key_set');

    for (const bad of ['short', 'has space in it 123456', 'slash/inside/0123456789', 'x'.repeat(129), 42]) {
      const res = await t.http().patch(`/v2/accounts/${id}`).set(auth()).send({ data: { provisioning: { url_key: bad } } });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.error).toBe('400');
      expect(res.body.data['provisioning.url_key']).toBeDefined();
    }
    expect(t.server.store.getAccount(id)?.provisioning?.url_key).toBe(KEY);

    const cleared = await t.http().patch(`/v2/accounts/${id}`).set(auth()).send({ data: { provisioning: { url_key: null } } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.data.provisioning).toEqual({});
    expect(t.server.store.getAccount(id)?.provisioning?.url_key).toBeUndefined();
  });

  it('phones of a keyed account get their file only under the key; without it they look like an unknown MAC', async () => {
    t = await startTestServer({ env: { PROVISION_PROBE_LIMIT: '4' }, parts: { provisioning: productionParts.provisioning } });
    const made = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth()).send({ data: { name: 'Keyed', provisioning: { url_key: KEY } } });
    const id = made.body.data.id;
    const device = await t
      .http()
      .put(`/v2/accounts/${id}/devices`)
      .set(auth())
      .send({ data: { name: 'desk', mac_address: '80:5e:c0:00:00:01', sip: { username: 'u1001', password: 'SipSecret-1001' } } });
    expect(device.status).toBe(201);
    const phone = () => t!.http(); // the real server, lean front door included (PROVISION_FAST_PATH defaults to 1)

    const good = await phone().get(`/provision/${KEY}/805ec0000001.cfg`);
    expect(good.status).toBe(200);
    expect(readKeyValue(good.text).get('account.1.password')).toBe('SipSecret-1001');

    const unknown = await phone().get('/provision/805ec0999999.cfg');
    for (const path of ['/provision/805ec0000001.cfg', `/provision/${KEY}x/805ec0000001.cfg`, `/provision/${KEY.slice(0, -1)}/805ec0000001.cfg`]) {
      const res = await phone().get(path);
      expect(visible({ status: res.status, body: res.text, headers: res.headers }), path).toEqual(
        visible({ status: unknown.status, body: unknown.text, headers: unknown.headers }),
      );
    }
    // Those were 4 probes: the next one bans the address, and then the right key does not help either.
    expect((await phone().get('/provision/805ec0000001.cfg')).status).toBe(403);
    expect((await phone().get(`/provision/${KEY}/805ec0000001.cfg`)).status).toBe(403);
  });
});

describe('url_key in the phone decision', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  for (const frontDoor of [false, true]) {
    it(`${frontDoor ? 'front door' : 'node:http'}: the key is checked before anything else about the device`, async () => {
      h = await startHarness({ frontDoor: frontDoor ? {} : false });
      h.dir.updateAccount(ACCOUNT, { provisioning: { url_key: KEY } });
      seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
      expect((await h.get(`${KEY}/001565aabbcc.cfg`)).status).toBe(200);
      // A User-Agent naming another MAC is refused (403) with the key — without it, nothing tells the MAC is known.
      const otherUa = { 'User-Agent': 'Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01' };
      expect((await h.get(`${KEY}/001565aabbcc.cfg`, otherUa)).status).toBe(403);
      expect((await h.get('001565aabbcc.cfg', otherUa)).status).toBe(404);
      // Disabled: 404 either way.
      h.dir.updateDevice('d', { enabled: false });
      expect((await h.get('001565aabbcc.cfg')).status).toBe(404);
      h.dir.updateDevice('d', { enabled: true });
      // A new key takes effect at once, kept answers included.
      h.dir.updateAccount(ACCOUNT, { provisioning: { url_key: `${KEY}-2` } });
      expect((await h.get(`${KEY}/001565aabbcc.cfg`)).status).toBe(404);
      expect((await h.get(`${KEY}-2/001565aabbcc.cfg`)).status).toBe(200);
      if (h.front) expect(h.front.served).toBe(6); // every one of them on the lean path
      expect(h.logs.join('\n')).not.toContain(KEY);
    });
  }

  it('unknown-MAC and missing-key fetches count toward the same ban', async () => {
    h = await startHarness({ env: { PROVISION_PROBE_LIMIT: '3' } });
    h.dir.updateAccount(ACCOUNT, { provisioning: { url_key: KEY } });
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    expect((await h.get('001565000001.cfg')).status).toBe(404);
    expect((await h.get('001565aabbcc.cfg')).status).toBe(404);
    expect((await h.get(`nope/001565aabbcc.cfg`)).status).toBe(404);
    expect((await h.get('001565000002.cfg')).status).toBe(403);
  });

  it('an account without a key ignores a key segment, so phones can be moved to the keyed URL first', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    expect((await h.get('001565aabbcc.cfg')).status).toBe(200);
    expect((await h.get(`${KEY}/001565aabbcc.cfg`)).status).toBe(200);
    for (const p of [`/provision/${KEY}/x/001565aabbcc.cfg`, '/provision/a.b/001565aabbcc.cfg', `/provision//001565aabbcc.cfg`, `/provision/${KEY}/`]) {
      expect((await h.get(p)).status, p).toBe(404);
    }
  });

  it('a shared file names the account by the User-Agent MAC only with the key', async () => {
    h = await startHarness();
    // HTTP auth as well, to see whether the account was recognised: its files then ask for credentials.
    h.dir.updateAccount(ACCOUNT, { provisioning: { url_key: KEY, http_auth: { type: 'digest', username: 'phones', password: 'pr0v!pr0v' } } });
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    const ua = { 'User-Agent': 'Yealink SIP-T46S 66.86.0.15 001565aabbcc' };
    expect((await h.get(`${KEY}/y000000000066.cfg`, ua)).status).toBe(401);
    const anonymous = await h.get('y000000000066.cfg', ua);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).not.toContain('s3cret');
  });
});
