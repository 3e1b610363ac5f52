import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ClientAddress } from '../../src/http/client-address.js';
import { productionParts } from '../../src/parts.js';
import { readOwner } from '../../src/store/process-lock.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** TRUST_PROXY: parsing, the rightmost-untrusted-hop rule, and the whole server behind a proxy. */
describe('ClientAddress', () => {
  it('never reads the header when no proxy is trusted', () => {
    const none = new ClientAddress([]);
    expect(none.of('127.0.0.1', '203.0.113.7')).toBe('127.0.0.1');
    expect(none.trusts('127.0.0.1')).toBe(false);
  });

  it('takes the rightmost hop that is not a trusted proxy, across addresses, CIDR blocks and IPv6', () => {
    const via = new ClientAddress(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    expect(via.of('127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    expect(via.of('127.0.0.1', '198.51.100.1, 203.0.113.7, 10.9.9.9')).toBe('203.0.113.7');
    expect(via.of('10.0.0.5', '2001:db8::1,fd12::3')).toBe('2001:db8::1');
    // node:http's IPv4-mapped peer on a dual-stack socket is the same proxy.
    expect(via.of('::ffff:127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    // Duplicate headers as node:http may hand them over, and empty list elements.
    expect(via.of('127.0.0.1', ['198.51.100.1', '203.0.113.7'])).toBe('203.0.113.7');
    expect(via.of('127.0.0.1', '203.0.113.7,,10.1.1.1')).toBe('203.0.113.7');
    // Every hop trusted: the leftmost is the best there is.
    expect(via.of('127.0.0.1', '10.1.1.1, 10.2.2.2')).toBe('10.1.1.1');
    // Not from a trusted peer: the header is the client's own word.
    expect(via.of('203.0.113.50', '10.1.1.1')).toBe('203.0.113.50');
    expect(via.of('127.0.0.2', '203.0.113.7')).toBe('127.0.0.2');
  });

  it('stops at a hop that is not an address, at the trusted proxy that passed it on', () => {
    const via = new ClientAddress(['127.0.0.1', '10.0.0.0/8']);
    expect(via.of('127.0.0.1', 'unknown')).toBe('127.0.0.1');
    expect(via.of('127.0.0.1', '203.0.113.7, 10.1.1.1:8080')).toBe('127.0.0.1');
    expect(via.of('127.0.0.1', 'junk, 10.1.1.1')).toBe('10.1.1.1');
    expect(via.of('127.0.0.1', '')).toBe('127.0.0.1');
  });

  it('TRUST_PROXY: a clear configuration error for anything but addresses and CIDR blocks', () => {
    expect(loadConfig({ TRUST_PROXY: ' 127.0.0.1 , 10.0.0.0/8,::1 ' }).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', '::1']);
    expect(loadConfig({}).trustProxy).toEqual([]);
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/x', '::1/129', '10.0.0.0/', '1.2.3']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
    }
  });
});

describe('the server behind a trusted proxy', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const provisioning = { provisioning: productionParts.provisioning };

  async function deviceWithFetch(forwardedFor: string) {
    const auth = { 'X-Auth-Token': t!.master.token };
    const made = await t!.http().put(`/v2/accounts/${t!.master.accountId}/devices`).set(auth).send({
      data: { name: 'Desk', mac_address: '80:5e:c0:d5:7d:72', sip: { username: 'desk1', password: 'desk-secret' }, provision: { endpoint_brand: 'yealink', endpoint_model: 'T54W' } },
    });
    expect(made.status).toBe(201);
    const cfg = await t!.http().get('/provision/805ec0d57d72.cfg').set('User-Agent', 'Yealink SIP-T54W 96.86.0.100 80:5e:c0:d5:7d:72').set('X-Forwarded-For', forwardedFor);
    expect(cfg.status).toBe(200);
    const got = await t!.http().get(`/v2/accounts/${t!.master.accountId}/devices/${made.body.data.id}`).set(auth);
    return got.body.data._read_only.provisioning.last_fetch.address as string;
  }

  it('shows the real client as the last-fetch address in the API answer (_read_only.provisioning)', async () => {
    t = await startTestServer({ parts: provisioning, env: { TRUST_PROXY: '127.0.0.1' } });
    expect(await deviceWithFetch('203.0.113.7')).toBe('203.0.113.7');
  });

  it('shows the socket peer when the peer is not trusted, whatever the header says', async () => {
    t = await startTestServer({ parts: provisioning });
    expect(await deviceWithFetch('203.0.113.7')).toBe('127.0.0.1');
  });

  it('refuses the loopback-only control endpoint to a remote client forwarded by a local trusted proxy', async () => {
    t = await startTestServer({ env: { TRUST_PROXY: '127.0.0.1' } });
    const secret = (await readOwner(t.dataDir))!.controlSecret!;
    const body = (name: string) => ({ name, realm: `${name}.test`, username: 'u', password: 'p-p-p-p' });
    const post = (name: string) => t!.http().post('/internal/create-account').set('X-Control-Secret', secret).send(body(name));
    // With the right secret, a remote client behind the proxy is still not on loopback.
    expect((await post('remote').set('X-Forwarded-For', '203.0.113.7')).status).toBe(403);
    // The CLI's own request (loopback, no header) and one the local proxy forwards for a loopback client go through.
    expect((await post('local')).status).toBe(200);
    expect((await post('forwarded').set('X-Forwarded-For', '127.0.0.1')).status).toBe(200);
    // A body that is not a request is a 400 that says why, whatever its shape; never a 500.
    const cases: Array<[unknown, string]> = [
      [[], 'name is required'],
      [{ name: 'x', realm: 'x.test', username: 'u', password: 7 }, 'password is required'],
      ['name', 'entity.parse.failed'],
    ];
    for (const [bad, why] of cases) {
      const res = await t!.http().post('/internal/create-account').set('X-Control-Secret', secret).set('Content-Type', 'application/json').send(JSON.stringify(bad));
      expect([res.status, res.body.error]).toEqual([400, why]);
    }
  });
});
