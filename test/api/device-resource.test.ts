import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionParts } from '../../src/parts.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourcesUnder(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('the device resource is one module', () => {
  it('no file of src/sip builds an HTTP router or imports a route', () => {
    const offenders = sourcesUnder(path.join(SRC, 'sip')).filter((file) => {
      const text = readFileSync(file, 'utf8');
      return /from 'express'/.test(text) || /from '[^']*\/routes\//.test(text) || /\bRouter\(/.test(text);
    });
    expect(offenders.map((f) => path.relative(SRC, f))).toEqual([]);
  });

  it("one check-sync default: the generic event is spelled only in src/devices/check-sync.ts", () => {
    // A code literal 'check-sync' (or "…;reboot=true"), not a mention in a comment.
    const spelled = sourcesUnder(SRC).filter((file) => /'check-sync(;reboot=true)?'/.test(readFileSync(file, 'utf8')));
    expect(spelled.map((f) => path.relative(SRC, f))).toEqual([path.join('devices', 'check-sync.ts')]);
  });
});

describe('device actions through the one router (SIP on, phones offline)', () => {
  let t: TestServer;
  let A: string;
  const auth = () => ({ 'X-Auth-Token': t.master.token });

  beforeAll(async () => {
    t = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'embedded', SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0' } });
    A = t.master.accountId;
  });
  afterAll(() => t.close());

  const device = async (data: Record<string, unknown>) => {
    const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data });
    expect(made.status, made.text).toBe(201);
    return made.body.data.id as string;
  };

  it('a reboot sync for a phone of unknown vendor (no MAC) asks the generic check-sync with reboot', async () => {
    // Before, provisioning's own fallback dropped the reboot ("check-sync") while the action router kept it.
    const id = await device({ name: 'no mac', sip: { username: 'nomac1', password: 'nomac-secret-1' } });
    const res = await t.http().post(`/v2/accounts/${A}/devices/${id}/sync?reboot=true`).set(auth());
    expect(res.status, res.text).toBe(200);
    const kept = await t.http().get(`/v2/accounts/${A}/devices/${id}`).set(auth());
    expect(kept.body.data._read_only.sip_notify).toMatchObject({ action: 'sync', event: 'check-sync;reboot=true', state: 'pending' });
  });

  it('stored documents are frozen: an in-place change of one, however deep, throws instead of going unseen', async () => {
    const id = await device({ name: 'frozen', sip: { username: 'frozen1', password: 'frozen-secret-1' } });
    const stored = t.server.store.getDevice(A, id)!;
    expect(() => {
      (stored as { name?: string }).name = 'changed in place';
    }).toThrow(TypeError);
    expect(() => {
      stored.sip!.password = 'changed in place';
    }).toThrow(TypeError);
    const account = t.server.store.getAccount(A)!;
    expect(() => {
      (account as { name?: string }).name = 'changed in place';
    }).toThrow(TypeError);
    // A write through the API replaces the document; the new one is frozen too.
    expect((await t.http().patch(`/v2/accounts/${A}/devices/${id}`).set(auth()).send({ data: { name: 'renamed' } })).status).toBe(200);
    const renamed = t.server.store.getDevice(A, id)!;
    expect(renamed).not.toBe(stored);
    expect(renamed.name).toBe('renamed');
    expect(Object.isFrozen(renamed) && Object.isFrozen(renamed.sip)).toBe(true);
  });

  it('notify goes through the devices_notify schema: over-long events and bodies without string data are 400', async () => {
    const id = await device({ name: 'notify', sip: { username: 'notify1', password: 'notify-secret-1' } });
    const long = await t.http().put(`/v2/accounts/${A}/devices/${id}`).set(auth()).send({ action: 'notify', data: { event: 'x'.repeat(257) } });
    expect(long.status).toBe(400);
    expect(long.body.data['data.event'].invalid).toBeDefined();
    const badBody = await t.http().put(`/v2/accounts/${A}/devices/${id}`).set(auth()).send({ action: 'notify', data: { event: 'x', body: { content_type: 'text/plain', data: 7 } } });
    expect(badBody.status).toBe(400);
    expect(badBody.body.data['data.body'].invalid).toBeDefined();
    const ok = await t.http().put(`/v2/accounts/${A}/devices/${id}`).set(auth()).send({ action: 'notify', data: { event: 'x'.repeat(256) } });
    expect(ok.status, ok.text).toBe(202);
  });
});
