import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, testStore } from '../helpers/server.js';
import { spawnServer, spawnTs } from '../helpers/process.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { CorruptDataFileError } from '../../src/store/json-file-adapter.js';

const dirs: string[] = [];
/** Enough concurrent writes to coalesce many into one disk write (the storm itself is in bench/). */
const CONCURRENT_PATCHES = 100;
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function allJsonFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

/** A server on a DATA_DIR the test keeps (removed after the file), for restarts and file surgery. */
async function serverOnOwnDir() {
  const dataDir = await tempDir();
  dirs.push(dataDir);
  const t = await startTestServer({ dataDir });
  return { dataDir, t, A: t.master.accountId, auth: { 'X-Auth-Token': t.master.token } };
}

describe('storage', () => {
  // The 1,000-write storm is `npm run bench -- storm` (bench/patch-storm.ts); the same claims on fewer writes here.
  it(`${CONCURRENT_PATCHES} parallel PATCHes of different keys of one device all survive, in memory and on disk`, async () => {
    const { dataDir, t, A, auth } = await serverOnOwnDir();
    const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth).send({ data: { name: 'busy' } });
    const id = made.body.data.id;
    const agent = t.http();
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_PATCHES }, (_, i) => agent.patch(`/v2/accounts/${A}/devices/${id}`).set(auth).send({ data: { [`key_${i}`]: i } })),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const doc = (await t.http().get(`/v2/accounts/${A}/devices/${id}`).set(auth)).body.data;
    for (let i = 0; i < CONCURRENT_PATCHES; i++) expect(doc[`key_${i}`]).toBe(i);
    expect(doc.name).toBe('busy');
    await t.close();
    // restart on the same files: everything is there
    const again = await startTestServer({ dataDir });
    const reread = (await again.http().get(`/v2/accounts/${A}/devices/${id}`).set({ 'X-Auth-Token': again.master.token })).body.data;
    expect(Object.keys(reread).filter((k) => k.startsWith('key_'))).toHaveLength(CONCURRENT_PATCHES);
    await again.close();
  });

  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('a data file that does not parse stops startup with an error naming it, and is left untouched', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const t = await startTestServer({ dataDir });
    await t.close();
    const file = path.join(dataDir, 'system', 'accounts', 'docs.json');
    await writeFile(file, '{"docs": {"truncat');
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', LOG_LEVEL: 'silent' });
    await expect(startServer(config, createLogger('silent'))).rejects.toThrow(CorruptDataFileError);
    await expect(startServer(config, createLogger('silent'))).rejects.toThrow(file);
    expect(await readFile(file, 'utf8')).toBe('{"docs": {"truncat');
    // the real entry point says so on stderr and exits non-zero
    const proc = spawnTs('src/main.ts', [], { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none' });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toContain(file);
    expect(proc.stderr()).toMatch(/not valid JSON/);
  });

  it('SIGKILL during a write storm: every acknowledged write is on disk and no file is half-written', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const boot = spawnTs('src/cli.ts', ['create-account', 'Crash', 'crash.test', 'admin', 'crash-pass'], { DATA_DIR: dataDir });
    expect(await boot.exited).toBe(0);
    const { api_key } = JSON.parse(boot.stdout());
    const server = await spawnServer(dataDir);
    const api = request(`http://127.0.0.1:${server.port}`);
    const token = (await api.put('/v2/api_auth').send({ data: { api_key } })).body.auth_token;
    const account = JSON.parse(boot.stdout()).account_id;
    const acknowledged: string[] = [];
    let stop = false;
    /** The kill comes once enough writes are acknowledged (with more in flight), however fast the machine is. */
    let enoughAcknowledged!: () => void;
    const enough = new Promise<void>((resolve) => (enoughAcknowledged = resolve));
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await api.put(`/v2/accounts/${account}/devices`).set('X-Auth-Token', token).send({ data: { name: `w${w}-${i}`, blob: 'x'.repeat(2000) } });
          if (res.status === 201) acknowledged.push(res.body.data.id);
          if (acknowledged.length >= 40) enoughAcknowledged();
        } catch {
          return; // connection died with the server
        }
      }
    });
    await enough;
    server.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await server.exited;
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const file of await allJsonFiles(dataDir)) {
      if (file.endsWith('.json')) expect(() => JSON.parse(readFileSync(file, 'utf8')), file).not.toThrow();
    }
    const restarted = await spawnServer(dataDir);
    // temp files a crash left behind are swept at startup
    expect((await allJsonFiles(dataDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const token2 = (await request(`http://127.0.0.1:${restarted.port}`).put('/v2/api_auth').send({ data: { api_key } })).body.auth_token;
    const listed = await request(`http://127.0.0.1:${restarted.port}`).get(`/v2/accounts/${account}/devices?paginate=false`).set('X-Auth-Token', token2);
    const present = new Set(listed.body.data.map((r: { id: string }) => r.id));
    for (const id of acknowledged) expect(present.has(id), id).toBe(true);
    restarted.child.kill('SIGTERM');
    await restarted.exited;
  });

  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('CLI create-account works with and without a running server; neither loses the other\'s writes', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    await mkdir(dataDir, { recursive: true });
    const first = spawnTs('src/cli.ts', ['create-account', 'Master', 'master.cli', 'admin', 'pw-1'], { DATA_DIR: dataDir });
    expect(await first.exited).toBe(0);
    const lines = first.stdout().trim().split('\n');
    expect(lines).toHaveLength(1);
    const master = JSON.parse(lines[0]!);
    expect(Object.keys(master).sort()).toEqual(['account_id', 'api_key', 'name', 'realm', 'user_id']);
    expect(master).toMatchObject({ name: 'Master', realm: 'master.cli' });

    const server = await spawnServer(dataDir);
    const api = request(`http://127.0.0.1:${server.port}`);
    const token = (await api.put('/v2/api_auth').send({ data: { api_key: master.api_key } })).body.auth_token;
    // server-side writes interleaved with CLI writes
    const serverWrites = Promise.all(Array.from({ length: 20 }, (_, i) => api.put(`/v2/accounts/${master.account_id}/devices`).set('X-Auth-Token', token).send({ data: { name: `d${i}` } })));
    const second = spawnTs('src/cli.ts', ['create-account', 'Second', 'second.cli', 'boss', 'pw-2'], { DATA_DIR: dataDir });
    expect(await second.exited).toBe(0);
    const created = JSON.parse(second.stdout());
    await serverWrites;
    // the running server knows the new account at once (its api key works)
    expect((await api.put('/v2/api_auth').send({ data: { api_key: created.api_key } })).status).toBe(201);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    const third = spawnTs('src/cli.ts', ['create-account', 'Third', 'third.cli', 'x', 'pw-3'], { DATA_DIR: dataDir });
    expect(await third.exited).toBe(0);
    const t = await startTestServer({ dataDir });
    const names = t.server.store.listAccounts().map((a) => a.name).sort();
    expect(names).toEqual(['Master', 'Second', 'Third']);
    expect(t.server.store.listDevices(master.account_id)).toHaveLength(20);
    await t.close();

    const bad = spawnTs('src/cli.ts', ['create-account', 'Dup', 'master.cli', 'x', 'y'], { DATA_DIR: dataDir });
    expect(await bad.exited).toBe(1);
    expect(bad.stderr()).toContain('Realm already in use');
  });
});

describe('a write the disk refuses', () => {
  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('answers 503 datastore_fault and leaves the stored device as it was', async () => {
    const { dataDir, t, A, auth } = await serverOnOwnDir();
    const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth).send({ data: { name: 'before', mac_address: '0004f2000001' } });
    // Root ignores file modes, so break the path itself: the devices directory becomes a plain file.
    const devicesDir = path.join(dataDir, 'accounts', A, 'devices');
    await rm(devicesDir, { recursive: true, force: true });
    await writeFile(devicesDir, 'not a directory');
    const res = await t.http().patch(`/v2/accounts/${A}/devices/${made.body.data.id}`).set(auth).send({ data: { name: 'after', mac_address: '0004f2000002' } });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: '503', message: 'datastore_fault', status: 'error' });
    const got = await t.http().get(`/v2/accounts/${A}/devices/${made.body.data.id}`).set(auth);
    expect(got.body.data.name).toBe('before');
    expect(got.body.revision).toBe(made.body.revision);
    // the indexes rolled back too: the old MAC still finds it, the new one is free
    expect(t.server.store.findDeviceByMac('0004f2000001')?.device.id).toBe(made.body.data.id);
    expect(t.server.store.findDeviceByMac('0004f2000002')).toBeUndefined();
    const create = await t.http().put(`/v2/accounts/${A}/devices`).set(auth).send({ data: { name: 'new' } });
    expect(create.status).toBe(503);
    expect(t.server.store.listDevices(A)).toHaveLength(1);
    await t.close();
  });
});
