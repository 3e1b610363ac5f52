import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { readKeyValue } from './support/readers.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('render cache', () => {
  it('re-renders when the device, a watched user or the account change, and only then', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    /** Fetches the file; `rendered` says whether templates ran for it (a change) or the cache answered. */
    const fetched = async () => {
      const before = h.service.renders;
      const res = await h.get('001565aabbcc.cfg');
      return { body: res.body, rendered: h.service.renders > before };
    };
    const fetchKv = async (rendered: boolean) => {
      const got = await fetched();
      expect(got.rendered).toBe(rendered);
      return readKeyValue(got.body);
    };
    const first = await fetched();
    expect(first.rendered).toBe(true);
    const again = await fetched();
    expect(again.body).toBe(first.body);
    expect(again.rendered).toBe(false); // nothing changed: the cache answers
    const fp = await h.service.fingerprint(ACCOUNT, 'd');

    h.dir.updateUser('u0000000000000000000000000000b0b', { presence_id: '2002', first_name: 'Robert' });
    expect((await fetchKv(true)).get('linekey.2.value')).toBe('2002');
    expect((await fetchKv(false)).get('linekey.2.label')).toBe('Robert Builder');
    expect(await h.service.fingerprint(ACCOUNT, 'd')).not.toBe(fp);

    h.dir.updateAccount(ACCOUNT, { realm: 'new.realm.example.com' });
    expect((await fetchKv(true)).get('account.1.sip_server.1.address')).toBe('new.realm.example.com');

    h.dir.updateDevice('d', { sip: { username: 'user_1001', password: 'rotated', expire_seconds: 120 } });
    const kv = await fetchKv(true);
    expect(kv.get('account.1.password')).toBe('rotated');
    expect(kv.get('account.1.sip_server.1.expires')).toBe('120');
  });

  it('fingerprint is null for unknown, MAC-less or disabled devices', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    h.dir.addDevice(ACCOUNT, { id: 'nomac', name: 'soft' });
    expect(await h.service.fingerprint(ACCOUNT, 'd')).toMatch(/^[0-9a-f]{64}$/);
    expect(await h.service.fingerprint(ACCOUNT, 'nomac')).toBeNull();
    expect(await h.service.fingerprint(ACCOUNT, 'missing')).toBeNull();
    h.dir.updateDevice('d', { enabled: false });
    expect(await h.service.fingerprint(ACCOUNT, 'd')).toBeNull();
  });
});

describe('last fetch', () => {
  it('is recorded per device, returned by describe() and persisted under DATA_DIR/provisioning', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'prov-fetch-'));
    h = await startHarness({ dataDir, options: { fetchLogFlushMs: 5 } });
    seedFullDevice(h, { id: 'd', mac: '000b82aabbcc', model: 'GXP2135' });
    expect(h.service.describe(ACCOUNT, 'd')).toMatchObject({ vendor: 'grandstream', files: ['cfg000b82aabbcc.xml', 'phonebook.xml'] });
    expect(h.service.describe(ACCOUNT, 'd')!.last_fetch).toBeUndefined();
    const ua = 'Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b82aabbcc';
    await h.get('cfg000b82aabbcc.xml', { 'User-Agent': ua });
    const d = h.service.describe(ACCOUNT, 'd')!;
    expect(d.last_fetch).toMatchObject({ address: '127.0.0.1', user_agent: ua, file: 'cfg000b82aabbcc.xml' });
    // Journal written off the hot path, shortly after.
    await expect.poll(() => {
      try {
        return readFileSync(path.join(dataDir, 'provisioning', 'last-fetch.journal'), 'utf8');
      } catch {
        return '';
      }
    }).toContain('cfg000b82aabbcc.xml');
    await h.close();
    // A fresh in-memory directory holding the same device, the same DATA_DIR.
    h = await startHarness({ dataDir, seed: (again) => seedFullDevice(again, { id: 'd', mac: '000b82aabbcc', model: 'GXP2135' }) });
    expect(h.service.describe(ACCOUNT, 'd')).toMatchObject({ last_fetch: { user_agent: ua, file: 'cfg000b82aabbcc.xml' } });
    await h.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('never records secrets: a failed auth is not a fetch', async () => {
    h = await startHarness();
    h.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type: 'basic', username: 'u', password: 'p' } } });
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    expect((await h.get('001565aabbcc.cfg')).status).toBe(401);
    expect(h.service.describe(ACCOUNT, 'd')!.last_fetch).toBeUndefined();
  });
});
