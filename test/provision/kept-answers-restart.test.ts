import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { rawClient } from './support/raw-client.js';
import { readKeyValue } from './support/readers.js';

/**
 * The front door's kept answers outlive a restart (DATA_DIR/rendered/answers.jsonl): after a power cut a phone's
 * first fetch is a replay of what it was last served, with no decision and no render. Each answer read back is
 * checked afresh before it is used: one made from anything that changed while the server was down is dropped and
 * the fetch decided in full. Replays are counted by the front door (`replayed`), never timed.
 */
const UA = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc';
const FILE = '001565aabbcc.cfg';
const URL_KEY = 'k3y-0f-the-acc0unt-for-ph0nes';
/** Files that do not depend on the Host: the harness listens on a new port at each start. */
const FIXED_ORIGIN = { PROVISION_BASE_URL: 'http://prov.test.invalid/provision', SIP_PUBLIC_ADDRESS: '192.0.2.10' };
const get = (file = `/provision/${FILE}`, ua = UA) => `GET ${file} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${ua}\r\n\r\n`;

let h: Harness | undefined;
const sockets: net.Socket[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Seed = (x: Pick<Harness, 'dir'>) => void;
const seedPhone: Seed = (x) => seedFullDevice(x, { id: 'd', mac: '001565aabbcc', brand: 'yealink', model: 'T46S' });

/** Starts on `dataDir` with the front door; `codeStamp` stands for the build. */
const start = (dataDir: string, seed: Seed, codeStamp = 'build-1') =>
  startHarness({ dataDir, env: FIXED_ORIGIN, seed, frontDoor: {}, options: { codeStamp, readBack: false } });

/** Fetches on a fresh connection and says whether the answer was replayed. */
async function fetchOnce(x: Harness, text = get()) {
  const before = x.front!.replayed;
  const c = rawClient(x, sockets);
  await c.write(text);
  const res = await c.next();
  return { ...res, text: res.body.toString('utf8'), replayed: x.front!.replayed > before };
}

/** A first run: the phone fetched its file (an answer kept), then the server stopped. Returns what it was served. */
async function firstRun(seed: Seed = seedPhone, text = get()) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'prov-answers-'));
  dirs.push(dataDir);
  const first = await start(dataDir, seed);
  await first.service.rendered();
  const served = await fetchOnce(first, text);
  expect(served.status).toBe(200);
  await first.close();
  return { dataDir, served, first };
}

/** A first run where the account has a URL key and the phone fetched under it. */
const firstKeyedRun = () =>
  firstRun((x) => {
    seedPhone(x);
    x.dir.updateAccount(ACCOUNT, { provisioning: { url_key: URL_KEY } });
  }, get(`/provision/${URL_KEY}/${FILE}`));

/** The previous run's documents, same revisions (what a restart on the same store sees), then `change`. */
const sameDocs = (from: Harness, change?: Seed): Seed => (to) => {
  for (const [k, v] of from.dir.accounts) to.dir.accounts.set(k, v);
  for (const [k, v] of from.dir.users) to.dir.users.set(k, v);
  for (const [k, v] of from.dir.devices) to.dir.devices.set(k, v);
  change?.(to);
};

describe('kept answers across a restart', () => {
  it("replays a phone's first fetch after a restart byte for byte, rendering nothing, and records the fetch", async () => {
    const { dataDir, served, first } = await firstRun();
    h = await start(dataDir, sameDocs(first));
    expect(h.logs.some((l) => l.includes('kept answers restored') && l.includes('"restored":1'))).toBe(true);
    const res = await fetchOnce(h);
    expect(res.replayed).toBe(true);
    expect(res.body.equals(served.body)).toBe(true);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(h.service.renders).toBe(0);
    expect((h.service.describe(ACCOUNT, 'd')?.last_fetch as { user_agent: string }).user_agent).toBe(UA);
    // Read from disk (not held on a first read after a restart), and replayed again from there.
    expect((await fetchOnce(h)).replayed).toBe(true);
    expect(h.service.memoryStats().files).toBe(1);
  });

  it('reads the files restored answers name back into memory before the other kept files', async () => {
    const withPolycoms: Seed = (x) => {
      seedPhone(x);
      for (let i = 0; i < 4; i++) seedFullDevice(x, { id: `p${i}`, mac: `0004f2aabb0${i}`, brand: 'polycom', model: 'VVX400' });
    };
    const { dataDir, first, served } = await firstRun(withPolycoms);
    // Room for the Yealink file alone: whatever the read-back takes first is what memory holds.
    const cacheBytes = served.head.length + 4 + served.body.length + 1024 + 256;
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), frontDoor: {}, options: { codeStamp: 'build-1', cacheBytes } });
    // Read back before the port opened (the harness awaits readBack, as the server does before listen).
    expect(h.service.memoryStats().files).toBe(1);
    const res = await fetchOnce(h);
    expect([res.status, res.replayed]).toEqual([200, true]);
    // Served from memory: the kept copy on disk was not read for it.
    expect(h.service.keptServed).toBe(0);
  });

  it('leaves kept files no phone was served on disk until asked: read at the first fetch, nothing rendered', async () => {
    const withPolycoms: Seed = (x) => {
      seedPhone(x);
      for (let i = 0; i < 4; i++) seedFullDevice(x, { id: `p${i}`, mac: `0004f2aabb0${i}`, brand: 'polycom', model: 'VVX400' });
    };
    const { dataDir, first } = await firstRun(withPolycoms);
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), frontDoor: {}, options: { codeStamp: 'build-1' } });
    // The Polycom files were rendered ahead in the first run and never fetched: only the Yealink file was read back.
    expect(h.service.memoryStats().files).toBe(1);
    await h.service.rendered();
    expect(h.service.memoryStats().files).toBe(1);
    const polycom = await h.get('0004f2aabb00-user.cfg');
    expect(polycom.status).toBe(200);
    expect([h.service.keptServed, h.service.renders]).toEqual([1, 0]);
    const res = await fetchOnce(h);
    expect([res.status, res.replayed, h.service.keptServed]).toEqual([200, true, 1]);
  });

  it('bounds the read-back before the port opens by time; the answers are replayed all the same', async () => {
    const { dataDir, first } = await firstRun();
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), frontDoor: {}, options: { codeStamp: 'build-1', readBackMs: 0 } });
    expect(h.logs.some((l) => l.includes('kept files read back') && l.includes('"files":0,"of":1'))).toBe(true);
    expect((await fetchOnce(h)).replayed).toBe(true);
  });

  it('rehearses the phone path before the port opens without recording a fetch, then replays the real one', async () => {
    const { dataDir, first } = await firstRun();
    const before = first.service.describe(ACCOUNT, 'd')?.last_fetch as { time: string; user_agent: string };
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), frontDoor: {}, options: { codeStamp: 'build-1', now: () => Date.parse('2031-01-01T00:00:00Z') } });
    const rehearsed = h.logs.find((l) => l.includes('phone path rehearsed'));
    expect(rehearsed).toMatch(/"requests":[1-9]/);
    // Replays through the very front door phones use, none of them a phone's fetch.
    expect(h.front!.replayed).toBeGreaterThan(0);
    expect(h.service.renders).toBe(0);
    expect(h.service.describe(ACCOUNT, 'd')?.last_fetch).toEqual(expect.objectContaining({ time: before.time, user_agent: UA }));
    const res = await fetchOnce(h);
    expect([res.status, res.replayed]).toEqual([200, true]);
    expect((h.service.describe(ACCOUNT, 'd')?.last_fetch as { time: string }).time).not.toBe(before.time);
  });

  it('drops a restored answer whose device changed while the server was down', async () => {
    const { dataDir, first } = await firstRun();
    h = await start(dataDir, sameDocs(first, (x) => x.dir.updateDevice('d', { caller_id: { internal: { name: 'Night Desk' } } })));
    expect(h.logs.some((l) => l.includes('kept answers restored') && l.includes('"restored":0'))).toBe(true);
    const res = await fetchOnce(h);
    expect(res.replayed).toBe(false);
    expect(readKeyValue(res.text).get('account.1.display_name')).toBe('Night Desk');
  });

  it('drops a restored answer whose template layer changed in a run where its phone did not fetch', async () => {
    const { dataDir, first } = await firstRun();
    h = await start(dataDir, sameDocs(first));
    const put = await request(h.base)
      .put(`/v2/accounts/${ACCOUNT}/provisioning/templates/yealink/mac.cfg`)
      .send({ data: { template: '#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = {{sip.username}}\n' } });
    expect(put.status).toBe(200);
    await h.close();
    // The answers file still holds the answer made before the override.
    expect(readFileSync(path.join(dataDir, 'rendered', 'answers.jsonl'), 'utf8')).toContain(FILE);
    h = await start(dataDir, sameDocs(first));
    const res = await fetchOnce(h);
    expect(res.replayed).toBe(false);
    expect([...readKeyValue(res.text).keys()]).toEqual(['account.1.enable', 'account.1.user_name']);
  });

  it('drops every restored answer after an upgrade (another build), and serves the same bytes decided anew', async () => {
    const { dataDir, served, first } = await firstRun();
    h = await start(dataDir, sameDocs(first), 'build-2');
    expect(h.logs.some((l) => l.includes('kept answers restored') && l.includes('"restored":0'))).toBe(true);
    const res = await fetchOnce(h);
    expect([res.status, res.replayed]).toEqual([200, false]);
    expect(res.body.equals(served.body)).toBe(true);
  });

  it('never replays past a refusal that came while down: a disabled device, a URL key set on the account', async () => {
    const { dataDir, first } = await firstRun();
    h = await start(dataDir, sameDocs(first, (x) => x.dir.updateDevice('d', { enabled: false })));
    expect([(await fetchOnce(h)).status, (await fetchOnce(h)).replayed]).toEqual([404, false]);
    await h.close();

    h = await start(dataDir, sameDocs(first, (x) => x.dir.updateAccount(ACCOUNT, { provisioning: { url_key: URL_KEY } })));
    const res = await fetchOnce(h);
    expect([res.status, res.replayed]).toEqual([404, false]);
  });

  it('restores an answer fetched under the URL key at the keyed URL only, and not for another User-Agent', async () => {
    const { dataDir, served, first } = await firstKeyedRun();
    h = await start(dataDir, sameDocs(first));
    const keyed = await fetchOnce(h, get(`/provision/${URL_KEY}/${FILE}`));
    expect([keyed.status, keyed.replayed]).toEqual([200, true]);
    expect(keyed.body.equals(served.body)).toBe(true);
    expect((await fetchOnce(h, get(`/provision/${FILE}`))).status).toBe(404);
    const other = await fetchOnce(h, get(`/provision/${URL_KEY}/${FILE}`, 'Yealink SIP-T46S 66.86.0.20 00:15:65:aa:bb:cc'));
    expect([other.status, other.replayed]).toEqual([200, false]);
  });

  it('keeps no secret in the answers file, and starts without it when it is damaged', async () => {
    const { dataDir, served, first } = await firstKeyedRun();
    const file = path.join(dataDir, 'rendered', 'answers.jsonl');
    const text = readFileSync(file, 'utf8');
    expect(served.text).toContain('s3cret!');
    expect(text).not.toContain('s3cret!');
    expect(text).not.toContain(URL_KEY);
    const [header, ...records] = text.trim().split('\n');
    expect(JSON.parse(header!)).toEqual({ 'kept-answers': 1 });
    expect(records.map((l) => JSON.parse(l) as { deviceId: string; name: string; keyed: boolean })).toEqual([
      expect.objectContaining({ deviceId: 'd', name: FILE, keyed: true }),
    ]);

    // A line that is not an answer is skipped; a file of another format is not read at all.
    writeFileSync(file, `${header}\n{"deviceId":1}\nnot json\n${records[0]}\n`);
    h = await start(dataDir, sameDocs(first));
    expect(h.logs.some((l) => l.includes('lines that are not answers') && l.includes('"skipped":2'))).toBe(true);
    expect((await fetchOnce(h, get(`/provision/${URL_KEY}/${FILE}`))).replayed).toBe(true);
    await h.close();

    writeFileSync(file, 'garbage\n');
    h = await start(dataDir, sameDocs(first));
    expect(h.logs.some((l) => l.includes('another format'))).toBe(true);
    const res = await fetchOnce(h, get(`/provision/${URL_KEY}/${FILE}`));
    expect([res.status, res.replayed]).toEqual([200, false]);
    expect(res.body.equals(served.body)).toBe(true);
  });
});
