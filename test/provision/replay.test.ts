import type net from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, REALM, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { rawClient } from './support/raw-client.js';
import { KEPT_ENTRY_OVERHEAD } from '../../src/provision/front-door.js';
import { readKeyValue } from './support/readers.js';

/**
 * Kept answers on the lean front door: a device file fetched again on a keep-alive connection is answered from the
 * bytes kept for its URL, after the ticket re-checks what the answer was made from. These tests change each of
 * those inputs between two fetches and require the second answer to be decided anew (never replayed) and right.
 */
let h: Harness;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
});

const UA = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc';
const FILE = '/provision/001565aabbcc.cfg';
const BOB = 'u0000000000000000000000000000b0b';
const get = (path = FILE, ua = UA) => `GET ${path} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${ua}\r\n\r\n`;

async function start(env: Record<string, string> = {}) {
  h = await startHarness({ frontDoor: {}, env });
  seedFullDevice(h, { id: 'd', mac: '001565aabbcc', brand: 'yealink' });
  return rawClient(h, sockets);
}

/** The device's last-fetch time as the API shows it (ms). */
const lastFetchTime = () => Date.parse((h.service.describe(ACCOUNT, 'd')?.last_fetch as { time: string }).time);

/** Fetches on `c` and says whether the answer was replayed. */
async function fetchOn(c: ReturnType<typeof rawClient>, text = get()) {
  const before = h.front!.replayed;
  await c.write(text);
  const res = await c.next();
  return { ...res, text: res.body.toString('utf8'), replayed: h.front!.replayed > before };
}

describe('kept answers (lean front door)', () => {
  it('replays a device file byte for byte on the next fetch, and still records that fetch', async () => {
    const c = await start();
    const first = await fetchOn(c);
    expect(first.status).toBe(200);
    expect(first.replayed).toBe(false);
    const recorded = lastFetchTime();
    await new Promise((r) => setTimeout(r, 15));
    const second = await fetchOn(c);
    expect(second.replayed).toBe(true);
    expect(second.status).toBe(200);
    expect(second.body.equals(first.body)).toBe(true);
    const noDate = (s: string) => s.replace(/\r\nDate: [^\r]+/, '');
    expect(noDate(second.head)).toBe(noDate(first.head));
    expect(second.headers['cache-control']).toBe('no-store');
    // The replayed fetch moved the device's last-fetch time.
    expect(lastFetchTime()).toBeGreaterThan(recorded);
    // A fresh connection gets the same kept answer.
    expect((await fetchOn(rawClient(h, sockets))).replayed).toBe(true);
  });

  it('decides anew after the device, a watched user, the account or a template changed', async () => {
    const c = await start();
    await fetchOn(c);
    expect((await fetchOn(c)).replayed).toBe(true);

    h.dir.updateDevice('d', { caller_id: { internal: { name: 'Night Desk' } } });
    let res = await fetchOn(c);
    expect(res.replayed).toBe(false);
    expect(readKeyValue(res.text).get('account.1.display_name')).toBe('Night Desk');
    expect((await fetchOn(c)).replayed).toBe(true);

    // Bob is watched by a presence key: his new name must show on the key's label.
    h.dir.updateUser(BOB, { first_name: 'Robert' });
    res = await fetchOn(c);
    expect(res.replayed).toBe(false);
    expect(res.text).toContain('Robert');
    expect((await fetchOn(c)).replayed).toBe(true);

    h.dir.updateAccount(ACCOUNT, { realm: 'night.sip.example.com' });
    res = await fetchOn(c);
    expect(res.replayed).toBe(false);
    expect(readKeyValue(res.text).get('account.1.sip_server.1.address')).toBe('night.sip.example.com');
    expect(res.text).not.toContain(REALM);
    expect((await fetchOn(c)).replayed).toBe(true);

    const put = await request(h.base)
      .put(`/v2/accounts/${ACCOUNT}/provisioning/templates/yealink/mac.cfg`)
      .send({ data: { template: '#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = {{sip.username}}\n' } });
    expect(put.status).toBe(200);
    res = await fetchOn(c);
    expect(res.replayed).toBe(false);
    expect([...readKeyValue(res.text).keys()]).toEqual(['account.1.enable', 'account.1.user_name']);
  });

  it('never replays past a refusal: disabled device or account, HTTP auth turned on, deleted device', async () => {
    const c = await start();
    await fetchOn(c);
    h.dir.updateDevice('d', { enabled: false });
    let res = await fetchOn(c);
    expect([res.status, res.replayed]).toEqual([404, false]);

    h.dir.updateDevice('d', { enabled: true });
    expect((await fetchOn(c)).status).toBe(200);
    expect((await fetchOn(c)).replayed).toBe(true);
    h.dir.updateAccount(ACCOUNT, { enabled: false });
    res = await fetchOn(c);
    expect([res.status, res.replayed]).toEqual([404, false]);

    h.dir.updateAccount(ACCOUNT, { enabled: true });
    expect((await fetchOn(c)).status).toBe(200);
    h.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type: 'basic', username: 'phones', password: 'pr0v!' } } });
    res = await fetchOn(c);
    expect([res.status, res.replayed]).toEqual([401, false]);
    // Authenticated answers are decided every time (the credentials are part of the decision).
    const auth = `Authorization: Basic ${Buffer.from('phones:pr0v!').toString('base64')}\r\n`;
    const authed = get().replace('\r\n\r\n', `\r\n${auth}\r\n`);
    expect((await fetchOn(c, authed)).status).toBe(200);
    res = await fetchOn(c, authed);
    expect([res.status, res.replayed]).toEqual([200, false]);

    h.dir.updateAccount(ACCOUNT, { provisioning: {} });
    expect((await fetchOn(c)).status).toBe(200);
    expect((await fetchOn(c)).replayed).toBe(true);
    h.dir.devices.delete('d');
    res = await fetchOn(c);
    expect([res.status, res.replayed]).toEqual([404, false]);
  });

  it('decides anew for another User-Agent: a different MAC in it is refused, a new model is rendered for', async () => {
    h = await startHarness({ frontDoor: {} });
    // No brand or model on the device: the User-Agent decides the model.
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    const c = rawClient(h, sockets);
    await fetchOn(c);
    expect((await fetchOn(c)).replayed).toBe(true);
    let res = await fetchOn(c, get(FILE, 'Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01'));
    expect([res.status, res.replayed]).toEqual([403, false]);
    res = await fetchOn(c, get(FILE, 'Yealink SIP-T58A 58.86.0.15 00:15:65:aa:bb:cc'));
    expect([res.status, res.replayed]).toEqual([200, false]);
    expect(h.service.describe(ACCOUNT, 'd')).toMatchObject({ model: 'T58A', last_fetch: { user_agent: 'Yealink SIP-T58A 58.86.0.15 00:15:65:aa:bb:cc' } });
    expect((await fetchOn(c, get(FILE, 'Yealink SIP-T58A 58.86.0.15 00:15:65:aa:bb:cc'))).replayed).toBe(true);
  });

  it('refuses a banned address even for a kept answer', async () => {
    const c = await start({ PROVISION_PROBE_LIMIT: '2', PROVISION_PROBE_WINDOW: '60', PROVISION_BAN_SECONDS: '600' });
    await fetchOn(c);
    expect((await fetchOn(c)).replayed).toBe(true);
    for (const mac of ['001565000001', '001565000002']) expect((await fetchOn(c, get(`/provision/${mac}.cfg`))).status).toBe(404);
    expect((await fetchOn(c, get('/provision/001565000003.cfg'))).status).toBe(403);
    const res = await fetchOn(c);
    expect([res.status, res.replayed]).toEqual([403, false]);
    h.clock.now += 601_000;
    expect((await fetchOn(c)).status).toBe(200);
  });

  it('keeps at most maxKeptAnswers, and an evicted URL is simply decided again', async () => {
    h = await startHarness({ frontDoor: { maxKeptAnswers: 2 } });
    const macs = ['001565aabb01', '001565aabb02', '001565aabb03'];
    macs.forEach((mac, i) => seedFullDevice(h, { id: `d${i}`, mac, brand: 'yealink' }));
    const c = rawClient(h, sockets);
    const path = (mac: string) => `/provision/${mac}.cfg`;
    for (const mac of macs) expect((await fetchOn(c, get(path(mac), 'Yealink SIP-T46S 66.86.0.15'))).status).toBe(200);
    // The first was evicted by the third; the other two are kept.
    expect((await fetchOn(c, get(path(macs[0]!), 'Yealink SIP-T46S 66.86.0.15'))).replayed).toBe(false);
    expect((await fetchOn(c, get(path(macs[2]!), 'Yealink SIP-T46S 66.86.0.15'))).replayed).toBe(true);
  });

  it('keeps one answer per file: query-string and case variants of one MAC do not pin a copy each (M4)', async () => {
    const c = await start();
    expect((await fetchOn(c)).status).toBe(200);
    const one = h.front!.keptStats();
    expect(one.entries).toBe(1);
    // The drill's shape: one known MAC, a distinct padded query string per request, pipelined on one connection.
    const pad = 'p'.repeat(2000);
    const n = 400;
    let batch = '';
    for (let i = 0; i < n; i++) batch += get(`${FILE}?n=${i}&${pad}`);
    await c.write(batch);
    for (let i = 0; i < n; i++) expect((await c.next()).status).toBe(200);
    expect((await fetchOn(c, get(FILE.toUpperCase().replace('/PROVISION/', '/provision/')))).replayed).toBe(true);
    expect(h.front!.keptStats()).toEqual(one);
    // Every variant was the same device file: replayed, not decided and kept anew.
    expect(h.front!.replayed).toBe(n + 1);
  });

  it('holds the kept answers within maxKeptBytes across many devices, oldest out, counting only their own bytes', async () => {
    const path = (mac: string) => `/provision/${mac}.cfg`;
    const entryBytes = path('001565ab0000').length + KEPT_ENTRY_OVERHEAD;
    h = await startHarness({ frontDoor: { maxKeptBytes: 8 * entryBytes } });
    const macs = Array.from({ length: 60 }, (_, i) => `001565ab${i.toString(16).padStart(4, '0')}`);
    macs.forEach((mac, i) => seedFullDevice(h, { id: `d${i}`, mac, brand: 'yealink' }));
    const c = rawClient(h, sockets);
    const ua = 'Yealink SIP-T46S 66.86.0.15';
    for (const mac of macs) {
      expect((await fetchOn(c, get(path(mac), ua))).status).toBe(200);
      const stats = h.front!.keptStats();
      expect(stats.bytes).toBeLessThanOrEqual(8 * entryBytes);
      // The files' bytes are the renderer's (its own bound); an answer counts its key and ticket only.
      expect(stats.bytes).toBe(stats.entries * entryBytes);
    }
    expect(h.front!.keptStats().entries).toBe(8);
    // The newest are kept, the oldest went first.
    expect((await fetchOn(c, get(path(macs.at(-1)!), ua))).replayed).toBe(true);
    expect((await fetchOn(c, get(path(macs[0]!), ua))).replayed).toBe(false);
  });

  it.each([
    ['in memory or kept on disk', {}, true],
    ['in memory only (PROVISION_PRERENDER=0)', { PROVISION_PRERENDER: '0' }, false],
  ] as const)("replays a file only while the renderer holds it %s: one copy in memory, under the renderer's bound", async (_, env, onDisk) => {
    h = await startHarness({ frontDoor: {}, env, options: { cacheBytes: 24 * 1024 } });
    const macs = Array.from({ length: 30 }, (_, i) => `001565ac${i.toString(16).padStart(4, '0')}`);
    macs.forEach((mac, i) => seedFullDevice(h, { id: `e${i}`, mac, brand: 'yealink' }));
    const c = rawClient(h, sockets);
    const path = (mac: string) => `/provision/${mac}.cfg`;
    const ua = 'Yealink SIP-T46S 66.86.0.15';
    const first = await fetchOn(c, get(path(macs[0]!), ua));
    expect((await fetchOn(c, get(path(macs[0]!), ua))).replayed).toBe(true);
    for (const mac of macs.slice(1)) expect((await fetchOn(c, get(path(mac), ua))).status).toBe(200);
    const memory = h.service.memoryStats();
    expect(memory.bytes).toBeLessThanOrEqual(24 * 1024);
    expect(memory.files).toBeLessThan(macs.length);
    // The first file left the renderer's memory. Kept on disk, its answer is replayed from that copy (the version
    // it validated); in memory only, the answer names a copy no longer held and the fetch is decided again.
    const renders = h.service.renders;
    const again = await fetchOn(c, get(path(macs[0]!), ua));
    expect(again.replayed).toBe(onDisk);
    expect(again.body.equals(first.body)).toBe(true);
    expect(h.service.renders).toBe(onDisk ? renders : renders + 1);
    expect(h.service.memoryStats().bytes).toBeLessThanOrEqual(24 * 1024);
    expect((await fetchOn(c, get(path(macs[0]!), ua))).replayed).toBe(true);
  });
});
