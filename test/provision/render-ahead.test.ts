import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { loopDelayUnderLoadMs } from '../helpers/event-loop.js';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';

/**
 * Files rendered when their inputs change and kept on disk (DATA_DIR/rendered): a restart serves them without
 * rendering, a stale one is never served, a template edit re-renders only the files of the layer it changed, in
 * background slices that yield. Renders are counted by the service's counter (`renders`), never by time.
 */
const BUILTIN = path.resolve(import.meta.dirname, '../../templates');
const OTHER = 'a0000000000000000000000000000002';

let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (prefix: string) => {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** One phone of each vendor in ACCOUNT; their main per-device files. */
const PHONES = [
  { id: 'dy', mac: '001565aabbcc', brand: 'yealink', model: 'T46S', file: '001565aabbcc.cfg' },
  { id: 'dp', mac: '0004f2aabbcc', brand: 'polycom', model: 'VVX400', file: '0004f2aabbcc-user.cfg' },
  { id: 'dg', mac: '000b82aabbcc', brand: 'grandstream', model: 'GXP2135', file: 'cfg000b82aabbcc.xml' },
] as const;
const seedPhones = (x: Pick<Harness, 'dir'>) => {
  for (const p of PHONES) seedFullDevice(x, p);
};
/** The very same documents (same revisions) in a fresh directory: what a restart on the same store sees. */
const sameDocs = (from: Harness, then?: (x: Pick<Harness, 'dir'>) => void) => (to: Pick<Harness, 'dir'>) => {
  for (const [k, v] of from.dir.accounts) to.dir.accounts.set(k, v);
  for (const [k, v] of from.dir.users) to.dir.users.set(k, v);
  for (const [k, v] of from.dir.devices) to.dir.devices.set(k, v);
  then?.(to);
};
/**
 * Files that do not depend on the Host a phone fetched with (as the bench's server): the harness listens on a new
 * port each start, and with the Host in the files a restart would rightly find every kept file stale.
 */
const FIXED_ORIGIN = { PROVISION_BASE_URL: 'http://prov.test.invalid/provision', SIP_PUBLIC_ADDRESS: '192.0.2.10' };
const bodies = async (x: Harness) => Promise.all(PHONES.map(async (p) => (await x.get(p.file)).body));

/** A first run on a new DATA_DIR: every file rendered ahead and kept, each phone served once, then stopped. */
async function firstRun(prefix: string) {
  const dataDir = tmp(prefix);
  const first = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: seedPhones, options: { codeStamp: 'build-1' } });
  await first.service.rendered();
  const before = await bodies(first);
  await first.close();
  return { dataDir, before, first };
}

describe('files rendered ahead and kept across restarts', () => {
  it('after a restart serves every phone its kept bytes without rendering (node:http and the front door)', async () => {
    const dataDir = tmp('prov-kept-');
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: seedPhones, options: { codeStamp: 'build-1' } });
    await h.service.rendered();
    const rendered = h.service.renders;
    expect(rendered).toBeGreaterThanOrEqual(PHONES.length);
    const before = await bodies(h);
    // The background walk had them ready: the fetches rendered nothing.
    expect(h.service.renders).toBe(rendered);
    const first = h;
    await first.close();

    for (const frontDoor of [false, {}] as const) {
      h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), frontDoor, options: { codeStamp: 'build-1' } });
      await h.service.rendered();
      expect(await bodies(h)).toEqual(before);
      expect(h.service.renders).toBe(0);
      expect(h.service.keptServed).toBe(PHONES.length);
      await h.close();
    }
    h = undefined;
  });

  it('the check of every device\'s files starts once the read back is done, not beside it', async () => {
    let beforeReadBack = -1;
    h = await startHarness({
      env: FIXED_ORIGIN,
      seed: seedPhones,
      options: { codeStamp: 'build-1' },
      beforeReadBack: async (service) => {
        // Had the check been queued, this would wait for it (and it would render every phone's files).
        await service.rendered();
        beforeReadBack = service.renders;
      },
    });
    expect(beforeReadBack).toBe(0);
    await h.service.rendered();
    expect(h.service.renders).toBeGreaterThanOrEqual(PHONES.length);
  });

  it('after a restart a file read from disk is held in memory from its second read on (a boot storm reads each once)', async () => {
    const { dataDir, before, first } = await firstRun('prov-second-');

    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), options: { codeStamp: 'build-1', readBack: false } });
    await h.service.rendered();
    expect(h.service.memoryStats().files).toBe(0);
    expect(await bodies(h)).toEqual(before);
    // Served from disk, not kept in memory.
    expect(h.service.keptServed).toBe(PHONES.length);
    expect(h.service.memoryStats().files).toBe(0);
    // The second read is from disk again, and now held.
    expect(await bodies(h)).toEqual(before);
    expect(h.service.keptServed).toBe(2 * PHONES.length);
    expect(h.service.memoryStats().files).toBe(PHONES.length);
    // The third comes from memory.
    expect(await bodies(h)).toEqual(before);
    expect(h.service.keptServed).toBe(2 * PHONES.length);
    expect(h.service.renders).toBe(0);
  });

  it('a file this run rendered ahead (after a change) is held in memory at its first read', async () => {
    const dataDir = tmp('prov-ahead-held-');
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: seedPhones, options: { codeStamp: 'build-1' } });
    await h.service.rendered();
    const first = h;
    await first.close();
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(first), options: { codeStamp: 'build-1', readBack: false } });
    await h.service.rendered();
    const after = h.dir.updateDevice('dy', { caller_id: { internal: { name: 'Night Desk' } } });
    h.bus.emit({ type: 'device.changed', accountId: ACCOUNT, deviceId: 'dy', after });
    await h.service.rendered();
    const renders = h.service.renders;
    expect(h.service.memoryStats().files).toBe(0);
    expect((await h.get(PHONES[0].file)).body).toContain('Night Desk');
    // Read from disk once (nothing rendered at the fetch), and held from that read on.
    expect(h.service.renders).toBe(renders);
    expect(h.service.keptServed).toBe(1);
    expect(h.service.memoryStats().files).toBe(1);
  });

  it('never serves a stale kept file: device changed while down, another template, another build', async () => {
    const { dataDir, before, first } = await firstRun('prov-stale-');

    // The Yealink device was edited while the server was down (same store, newer revision).
    h = await startHarness({
      dataDir,
      env: FIXED_ORIGIN,
      seed: sameDocs(first, (x) => x.dir.updateDevice('dy', { caller_id: { internal: { name: 'Night Desk' } } })),
      options: { codeStamp: 'build-1' },
    });
    const [yealink, polycom] = await bodies(h);
    expect(yealink).toContain('Night Desk');
    expect(yealink).not.toBe(before[0]);
    expect(polycom).toBe(before[1]);
    await h.service.rendered();
    const afterEdit = await bodies(h);
    const edited = h;
    await h.close();

    // The built-in Yealink template was changed while down: only that file is rendered again.
    const tree = tmp('prov-tpl-');
    cpSync(BUILTIN, tree, { recursive: true });
    const file = path.join(tree, 'yealink', 'mac.cfg.hbs');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nedited.marker = {{mac}}\n`);
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(edited), options: { codeStamp: 'build-1', templatesDir: tree, watchTemplates: false } });
    await h.service.rendered();
    expect(h.service.renders).toBe(1);
    const withTemplate = await bodies(h);
    expect(withTemplate[0]).toContain('edited.marker = 001565aabbcc');
    expect(withTemplate.slice(1)).toEqual(afterEdit.slice(1));
    expect(h.service.renders).toBe(1);
    await h.close();

    // Another build of the rendering code: nothing kept is trusted.
    h = await startHarness({ dataDir, env: FIXED_ORIGIN, seed: sameDocs(edited), options: { codeStamp: 'build-2' } });
    await h.service.rendered();
    expect(h.service.renders).toBeGreaterThanOrEqual(PHONES.length);
    expect(await bodies(h)).toEqual(afterEdit);
  });

  it('renders a changed device in the background, so its next fetch renders nothing', async () => {
    h = await startHarness({ seed: seedPhones });
    await h.service.rendered();
    await bodies(h);
    const renders = h.service.renders;
    const after = h.dir.updateDevice('dy', { caller_id: { internal: { name: 'Night Desk' } } });
    h.bus.emit({ type: 'device.changed', accountId: ACCOUNT, deviceId: 'dy', after });
    await h.service.rendered();
    expect(h.service.renders).toBeGreaterThan(renders);
    const settled = h.service.renders;
    expect((await h.get(PHONES[0].file)).body).toContain('Night Desk');
    expect(h.service.renders).toBe(settled);
  });
});

describe('template edits re-render only their layer', () => {
  it('a built-in Yealink edit leaves Polycom and Grandstream files valid and re-renders Yealink ones in the background', async () => {
    const tree = tmp('prov-tpl-');
    cpSync(BUILTIN, tree, { recursive: true });
    const file = path.join(tree, 'yealink', 'mac.cfg.hbs');
    const seed = (x: Pick<Harness, 'dir'>) => {
      for (let i = 0; i < 3; i++) for (const p of PHONES) seedFullDevice(x, { ...p, id: `${p.id}${i}`, mac: `${p.mac.slice(0, 10)}0${i}` });
    };
    h = await startHarness({ seed, options: { templatesDir: tree, templateDebounceMs: 20 } });
    await h.service.rendered();
    const fetchAll = async (brand: string) => {
      const out: string[] = [];
      for (const p of PHONES.filter((x) => x.brand === brand)) for (let i = 0; i < 3; i++) out.push((await h!.get(p.file.replace('aabbcc', `aabb0${i}`))).body);
      return out;
    };
    const polycom = await fetchAll('polycom');
    const grandstream = await fetchAll('grandstream');
    await fetchAll('yealink');
    const renders = h.service.renders;

    writeFileSync(file, `${readFileSync(file, 'utf8')}\nedited.marker = {{mac}}\n`);
    await expect.poll(() => h!.events.some((e) => e.type === 'templates.changed'), { timeout: 5000 }).toBe(true);
    await h.service.rendered();
    // Exactly the three Yealink mac.cfg files, in the background.
    expect(h.service.renders).toBe(renders + 3);
    expect(await fetchAll('polycom')).toEqual(polycom);
    expect(await fetchAll('grandstream')).toEqual(grandstream);
    const yealink = await fetchAll('yealink');
    for (const body of yealink) expect(body).toContain('edited.marker = ');
    expect(h.service.renders).toBe(renders + 3);
  });

  it("one account's override upload leaves other accounts' files valid", async () => {
    const seed = (x: Pick<Harness, 'dir'>) => {
      seedPhones(x);
      x.dir.addAccount({ id: OTHER, realm: 'other.sip.example.com', name: 'Other' });
      x.dir.addDevice(OTHER, { id: 'oy', name: 'Other desk', mac_address: '001565ccddee', sip: { username: 'o1', password: 'op' }, provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S' } });
    };
    h = await startHarness({ seed });
    await h.service.rendered();
    const other = (await h.get('001565ccddee.cfg')).body;
    await bodies(h);
    const renders = h.service.renders;
    const put = await request(h.base)
      .put(`/v2/accounts/${ACCOUNT}/provisioning/templates/yealink/mac.cfg`)
      .send({ data: { template: '#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = {{sip.username}}\n' } });
    expect(put.status).toBe(200);
    await h.service.rendered();
    expect(h.service.renders).toBe(renders + 1);
    expect((await h.get('001565ccddee.cfg')).body).toBe(other);
    expect((await h.get(PHONES[0].file)).body).toBe('#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = user_1001\n');
    expect(h.service.renders).toBe(renders + 1);
  });

  it('a template that breaks for one device never reaches it: refused in the background, 500 at fetch, the good file back once reverted', async () => {
    h = await startHarness({ seed: seedPhones });
    await h.service.rendered();
    const good = (await h.get(PHONES[0].file)).body;
    // The upload's sample device has two feature keys, this device three: the sample passes, the device's file
    // does not (a line that is not key = value).
    const broken = '#!version:1.0.0.1\naccount.1.enable = 1\n{{#if featureKeys.[2]}}this is not a setting{{/if}}\n';
    const put = await request(h.base).put(`/v2/accounts/${ACCOUNT}/provisioning/templates/yealink/mac.cfg`).send({ data: { template: broken } });
    expect(put.status).toBe(200);
    await h.service.rendered();
    expect(h.logs.some((l) => l.includes('rendered file rejected, not kept') && l.includes('"device_id":"dy"'))).toBe(true);
    const res = await h.get(PHONES[0].file);
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('this is not a setting');

    expect((await request(h.base).delete(`/v2/accounts/${ACCOUNT}/provisioning/templates/yealink/mac.cfg`)).status).toBe(200);
    await h.service.rendered();
    const renders = h.service.renders;
    const back = await h.get(PHONES[0].file);
    expect([back.status, back.body]).toEqual([200, good]);
    expect(h.service.renders).toBe(renders);
  });
});

describe('memory and pacing', () => {
  it('holds rendered files within the memory bound in bytes', async () => {
    const macs = Array.from({ length: 40 }, (_, i) => `001565ab${i.toString(16).padStart(4, '0')}`);
    h = await startHarness({ seed: (x) => macs.forEach((mac, i) => seedFullDevice(x, { id: `d${i}`, mac, brand: 'yealink', model: 'T46S' })), options: { cacheBytes: 24 * 1024 } });
    for (const mac of macs) {
      expect((await h.get(`${mac}.cfg`)).status).toBe(200);
      expect(h.service.memoryStats().bytes).toBeLessThanOrEqual(24 * 1024);
    }
    const { files } = h.service.memoryStats();
    expect(files).toBeGreaterThan(1);
    expect(files).toBeLessThan(macs.length);
  });

  it('renders a whole install in slices that yield: the event loop is never held long', async () => {
    const seed = (x: Pick<Harness, 'dir'>) => {
      for (let i = 0; i < 200; i++) seedFullDevice(x, { id: `p${i}`, mac: `0004f2${i.toString(16).padStart(6, '0')}`, brand: 'polycom', model: 'VVX400' });
    };
    h = await startHarness({ seed });
    await h.service.rendered();
    const renders = h.service.renders;
    // The account's realm is in every file: all of them are rendered again, in the background.
    let move = 0;
    const { maxMs } = await loopDelayUnderLoadMs(async () => {
      // Each try moves the account again: a second try (after a stall) has the same work to do.
      const after = h!.dir.updateAccount(ACCOUNT, { realm: `moved${++move}.sip.example.com` });
      h!.bus.emit({ type: 'account.changed', accountId: ACCOUNT, after });
      await h!.service.rendered();
    }, 150);
    // 400 XML files take far longer than the bound in one piece; in slices no turn comes near it.
    expect(h.service.renders).toBeGreaterThanOrEqual(renders + 400);
    expect(maxMs).toBeLessThan(150);
  });
});
