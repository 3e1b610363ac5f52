import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { startServer, type RunningServer, type ServerParts } from '../../src/server.js';
import { bootstrapAccount } from '../../src/accounts/bootstrap.js';
import type { PoolSettings } from '../../src/store/postgres/connection.js';
import { createDatabase } from './postgres.js';

/**
 * Which store the test servers use: TEST_STORE=postgres (the `postgres` vitest project) gives each server a
 * database of its own on the run's PostgreSQL (test/global-setup.ts) through DATABASE_URL; unset = lowdb files
 * in DATA_DIR, as `npm start` runs. A server restarted on the same DATA_DIR gets the same database back.
 */
export const testStore: 'lowdb' | 'postgres' = process.env.TEST_STORE === 'postgres' ? 'postgres' : 'lowdb';
const databases = new Map<string, string>();

async function storeEnv(dataDir: string, env: Record<string, string> | undefined): Promise<Record<string, string>> {
  if (testStore !== 'postgres' || env?.DATABASE_URL) return {};
  let url = databases.get(dataDir);
  if (!url) databases.set(dataDir, (url = await createDatabase(inject('postgresUrl'))));
  return { DATABASE_URL: url };
}

export interface TestServer {
  server: RunningServer;
  config: Config;
  dataDir: string;
  url: string;
  master: { accountId: string; realm: string; apiKey: string; userId: string; token: string };
  /** supertest bound to the live server (a real socket). */
  http: () => request.Agent;
  close(): Promise<void>;
}

export async function tempDir(prefix = 'prov-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A real server (HTTP on an ephemeral loopback port) on a fresh DATA_DIR with a master account and a
 * token for it. SIP is off unless the test passes parts and env for it.
 */
export async function startTestServer(
  options: { parts?: ServerParts; env?: Record<string, string>; dataDir?: string; log?: Logger; now?: () => number; databasePool?: PoolSettings } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await tempDir());
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', LOG_LEVEL: 'silent', ...(await storeEnv(dataDir, options.env)), ...options.env });
  const server = await startServer(config, options.log ?? createLogger(config.logLevel), options.parts, { now: options.now, databasePool: options.databasePool });
  const url = `http://127.0.0.1:${server.port}`;
  const http = () => request.agent(url);
  let master = server.store.masterAccount();
  let boot: { accountId: string; realm: string; apiKey: string; userId: string };
  if (!master) {
    const made = await bootstrapAccount(server.store, { name: 'Master', realm: 'master.test', username: 'admin', password: 'admin-pass' });
    boot = { accountId: made.account_id, realm: made.realm, apiKey: made.api_key, userId: made.user_id };
  } else {
    boot = { accountId: master.id, realm: master.realm, apiKey: master.pvt_api_key, userId: server.store.listUsers(master.id)[0]?.id ?? '' };
  }
  const auth = await http().put('/v2/api_auth').send({ data: { api_key: boot.apiKey } });
  if (auth.status !== 201) throw new Error(`api_auth failed: ${auth.status} ${auth.text}`);
  return {
    server,
    config,
    dataDir,
    url,
    master: { ...boot, token: auth.body.auth_token as string },
    http,
    close: async () => {
      await server.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a child account under `parentId` with `token`; returns its id and realm. */
export async function createChildAccount(t: TestServer, token: string, parentId: string, name: string, realm?: string) {
  const res = await t.http().put(`/v2/accounts/${parentId}`).set('X-Auth-Token', token).send({ data: { name, ...(realm ? { realm } : {}) } });
  if (res.status !== 201) throw new Error(`create account failed: ${res.status} ${res.text}`);
  return { id: res.body.data.id as string, realm: res.body.data.realm as string };
}

/** A token for `accountId` obtained through the API (api_key -> api_auth). */
export async function tokenFor(t: TestServer, masterToken: string, accountId: string): Promise<string> {
  const key = await t.http().get(`/v2/accounts/${accountId}/api_key`).set('X-Auth-Token', masterToken);
  const auth = await t.http().put('/v2/api_auth').send({ data: { api_key: key.body.data.api_key } });
  return auth.body.auth_token as string;
}
