/**
 * `npm run bench -- storm`: N concurrent PATCHes, each of a different key, of one device, on a real server
 * (in process, fsync on). Moved here from the unit suite (test/api/storage.test.ts keeps the same claims on
 * fewer writes): every write is acknowledged, every key is in the device in memory and after a restart on the
 * same files. Reports the figures; a broken claim is an error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { bootstrapAccount } from '../src/accounts/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';

export interface PatchStormResult {
  writes: number;
  seconds: number;
  writesPerSecond: number;
  keysInMemory: number;
  keysAfterRestart: number;
}

export async function runPatchStorm(writes = 1000): Promise<PatchStormResult> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'patch-storm-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', LOG_LEVEL: 'silent' });
  const start = async () => {
    const server = await startServer(config, createLogger('silent'));
    return { server, api: request.agent(`http://127.0.0.1:${server.port}`) };
  };
  try {
    let { server, api } = await start();
    const made = await bootstrapAccount(server.store, { name: 'Storm', realm: 'storm.test', username: 'admin', password: 'storm-pass' });
    const tokenOf = async () => ({ 'X-Auth-Token': (await api.put('/v2/api_auth').send({ data: { api_key: made.api_key } })).body.auth_token as string });
    let auth = await tokenOf();
    const base = `/v2/accounts/${made.account_id}/devices`;
    const id = (await api.put(base).set(auth).send({ data: { name: 'busy' } })).body.data.id as string;
    const began = performance.now();
    const results = await Promise.all(Array.from({ length: writes }, (_, i) => api.patch(`${base}/${id}`).set(auth).send({ data: { [`key_${i}`]: i } })));
    const seconds = (performance.now() - began) / 1000;
    const failed = results.filter((r) => r.status !== 200).length;
    if (failed) throw new Error(`${failed} of ${writes} PATCHes were not acknowledged`);
    const keys = (doc: Record<string, unknown>) => Array.from({ length: writes }, (_, i) => i).filter((i) => doc[`key_${i}`] === i).length;
    const keysInMemory = keys((await api.get(`${base}/${id}`).set(auth)).body.data);
    await server.close();
    ({ server, api } = await start());
    auth = await tokenOf();
    const keysAfterRestart = keys((await api.get(`${base}/${id}`).set(auth)).body.data);
    await server.close();
    if (keysInMemory !== writes || keysAfterRestart !== writes) throw new Error(`keys kept: ${keysInMemory} in memory, ${keysAfterRestart} after restart, of ${writes}`);
    return { writes, seconds, writesPerSecond: Math.round(writes / seconds), keysInMemory, keysAfterRestart };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
