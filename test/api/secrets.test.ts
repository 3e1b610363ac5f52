import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { productionParts } from '../../src/parts.js';
import { createLogger } from '../../src/log.js';

const PASSWORD = 'Zq9-unique-sip-secret';
const lines: string[] = [];
let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });

beforeAll(async () => {
  t = await startTestServer({
    parts: productionParts,
    env: { SIP_BACKEND: 'embedded', SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0' },
    log: createLogger('debug', (l) => lines.push(l)),
  });
});
afterAll(() => t.close());

describe('a SIP password appears only in its own phone\'s config file', () => {
  it('not in logs, listings, other devices, shared files or non-database files', async () => {
    const A = t.master.accountId;
    const mine = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
      data: { name: 'Mine', mac_address: '00:15:65:aa:bb:01', sip: { username: 'mine1', password: PASSWORD }, provision: { endpoint_brand: 'yealink', endpoint_family: 't4x', endpoint_model: 'T46S' } },
    });
    expect(mine.status).toBe(201);
    const other = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({
      data: { name: 'Other', mac_address: '00:15:65:aa:bb:02', sip: { username: 'other1', password: 'other-secret' }, provision: { endpoint_brand: 'yealink', endpoint_family: 't4x', endpoint_model: 'T46S' } },
    });
    await t.http().patch(`/v2/accounts/${A}/devices/${mine.body.data.id}`).set(auth()).send({ data: { sip: { password: PASSWORD } }, sync: true });
    const ua = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:01';
    const own = await t.http().get('/provision/001565aabb01.cfg').set('User-Agent', ua);
    expect(own.text).toContain(PASSWORD);
    const seen: string[] = [];
    seen.push((await t.http().get('/provision/001565aabb02.cfg').set('User-Agent', 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:02')).text);
    seen.push((await t.http().get('/provision/y000000000066.cfg').set('User-Agent', ua)).text);
    seen.push((await t.http().get('/provision/001565aabb02.cfg').set('User-Agent', ua)).text); // wrong MAC for this UA: refused, logged
    seen.push(JSON.stringify((await t.http().get(`/v2/accounts/${A}/devices`).set(auth())).body));
    seen.push(JSON.stringify((await t.http().get(`/v2/accounts/${A}/devices/${other.body.data.id}`).set(auth())).body));
    seen.push(JSON.stringify((await t.http().get(`/v2/accounts/${A}/devices/${other.body.data.id}/config`).set(auth())).body));
    seen.push(JSON.stringify((await t.http().post(`/v2/accounts/${A}/devices/${mine.body.data.id}/sync`).set(auth())).body));
    for (const text of seen) expect(text).not.toContain(PASSWORD);
    await t.server.close(); // flushes the fetch log and everything else to disk
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(PASSWORD);
    // Outside the device database itself, nothing under DATA_DIR holds it.
    const files = (await readdir(t.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const holders = [];
    for (const file of files) if ((await readFile(file, 'utf8')).includes(PASSWORD)) holders.push(path.relative(t.dataDir, file));
    expect(holders.length).toBe(1);
    expect(holders[0]).toMatch(/^accounts\/[0-9a-f]{32}\/devices\/shard-\d{4}\.json$/);
  });
});
