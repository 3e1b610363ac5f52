import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, tokenFor, type TestServer, testStore } from '../helpers/server.js';
import { createProvisioning } from '../../src/provision/index.js';
import type { ServerParts } from '../../src/server.js';

const HTTP_PASSWORD = 'HttpAuth-Secret-7731';
const URL_KEY = 'UrlKey-Secret-0042-abcdef';
const PHONE_FILE = `/provision/${URL_KEY}/001565cc0001.cfg`;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const parts: ServerParts = {
  provisioning: ({ config, log, store, events }) => createProvisioning({ config, log, directory: store, events }),
};

async function ownDir() {
  const dir = await tempDir('prov-secrets-');
  dirs.push(dir);
  return dir;
}

/** Every file under `dir` whose bytes contain `needle`, relative to `dir`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const holders: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await readFile(file)).includes(needle)) holders.push(path.relative(dir, file));
  }
  return holders;
}

/** A child account protected by http_auth, with one phone; returns what the test needs to use it. */
async function protectedAccount(t: TestServer) {
  const auth = { 'X-Auth-Token': t.master.token };
  const made = await t.http().put(`/v2/accounts/${t.master.accountId}`).set(auth).send({
    data: { name: 'Shop', realm: 'shop.test', provisioning: { http_auth: { type: 'basic', username: 'prov', password: HTTP_PASSWORD }, url_key: URL_KEY } },
  });
  expect(made.status, made.text).toBe(201);
  const id = made.body.data.id as string;
  const device = await t.http().put(`/v2/accounts/${id}/devices`).set(auth).send({ data: { name: 'Y', mac_address: '001565cc0001', sip: { username: 'y1', password: 'y1-sip-pass' } } });
  expect(device.status, device.text).toBe(201);
  const apiKey = (await t.http().get(`/v2/accounts/${id}/api_key`).set(auth)).body.data.api_key as string;
  expect(apiKey).toMatch(/^[0-9a-f]{64}$/);
  return { id, apiKey };
}

async function expectWorking(t: TestServer, account: { id: string; apiKey: string }) {
  const login = await t.http().put('/v2/api_auth').send({ data: { api_key: account.apiKey } });
  expect(login.status).toBe(201);
  expect(login.body.data.account_id).toBe(account.id);
  const key = await t.http().get(`/v2/accounts/${account.id}/api_key`).set('X-Auth-Token', login.body.auth_token);
  expect(key.body.data.api_key).toBe(account.apiKey);
  expect((await t.http().get('/provision/001565cc0001.cfg').auth('prov', HTTP_PASSWORD)).status).toBe(404); // no url_key
  expect((await t.http().get(PHONE_FILE)).status).toBe(401);
  expect((await t.http().get(PHONE_FILE).auth('prov', 'wrong-password')).status).toBe(401);
  expect((await t.http().get(PHONE_FILE).auth('prov', HTTP_PASSWORD)).status).toBe(200);
}

describe('account secrets at rest', () => {
  it('neither the api_key, the http_auth password nor the url_key is stored in plaintext anywhere under DATA_DIR', async () => {
    const dataDir = await ownDir();
    const t = await startTestServer({ dataDir, parts });
    const account = await protectedAccount(t);
    await expectWorking(t, account);
    const masterKey = t.master.apiKey;
    await t.close();
    for (const secret of [account.apiKey, masterKey, HTTP_PASSWORD, URL_KEY]) expect(await filesHolding(dataDir, secret), secret).toEqual([]);
    const keyFile = path.join(dataDir, 'system', 'secrets.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    // after a restart, from disk: api_auth by key, GET api_key and http_auth all still work
    const again = await startTestServer({ dataDir, parts });
    await expectWorking(again, account);
    expect(await tokenFor(again, again.master.token, account.id)).toBeTruthy();
    await again.close();
  });

  it('SECRETS_KEY_FILE keeps the key outside DATA_DIR; without that key the data does not open', async () => {
    const dataDir = await ownDir();
    const keyDir = await ownDir();
    const keyFile = path.join(keyDir, 'provisioner-secrets.key');
    const t = await startTestServer({ dataDir, parts, env: { SECRETS_KEY_FILE: keyFile } });
    const account = await protectedAccount(t);
    await t.close();
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    // On PostgreSQL nothing at all need be in DATA_DIR/system (the token key is the cluster's).
    expect(await readdir(path.join(dataDir, 'system')).catch(() => [])).not.toContain('secrets.key');
    for (const secret of [account.apiKey, HTTP_PASSWORD]) expect(await filesHolding(dataDir, secret)).toEqual([]);
    await expect(startTestServer({ dataDir, parts })).rejects.toThrow(/secrets key/i);
    await mkdir(path.join(dataDir, 'system'), { recursive: true });
    await writeFile(path.join(dataDir, 'system', 'secrets.key'), 'ab'.repeat(32), { mode: 0o600 });
    await expect(startTestServer({ dataDir, parts })).rejects.toThrow(/cannot be decrypted/);
    await rm(path.join(dataDir, 'system', 'secrets.key'));
    const again = await startTestServer({ dataDir, parts, env: { SECRETS_KEY_FILE: keyFile } });
    await expectWorking(again, account);
    await again.close();
  });

  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('plaintext secrets written by an earlier version are encrypted at open', async () => {
    const dataDir = await ownDir();
    const t = await startTestServer({ dataDir, parts });
    const account = await protectedAccount(t);
    await t.close();
    // Rewrite the accounts file as the earlier version left it: secrets in the clear.
    const file = path.join(dataDir, 'system', 'accounts', 'docs.json');
    const stored = JSON.parse(await readFile(file, 'utf8')) as { docs: Record<string, Record<string, unknown>> };
    const child = stored.docs[account.id]!;
    child.pvt_api_key = account.apiKey;
    (child.provisioning as { http_auth: Record<string, unknown> }).http_auth.password = HTTP_PASSWORD;
    await writeFile(file, JSON.stringify(stored));
    expect(await filesHolding(dataDir, HTTP_PASSWORD)).toEqual(['system/accounts/docs.json']);
    const again = await startTestServer({ dataDir, parts });
    for (const secret of [account.apiKey, HTTP_PASSWORD]) expect(await filesHolding(dataDir, secret)).toEqual([]);
    await expectWorking(again, account);
    await again.close();
  });
});
