import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, testStore } from '../helpers/server.js';
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
  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('not in logs, listings, other devices, shared files or non-database files', async () => {
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

describe('phone admin/user passwords and phone-side HTTP credentials stay where they belong', () => {
  const DEVICE_ADMIN = 'Dv-unique-admin-pw-41';
  const ACCOUNT_USER_PW = 'Ac-unique-user-pw-42';
  const HTTP_PW = 'Ht-unique-prov-pw-43';
  const seenLines: string[] = [];
  let s: TestServer;
  const sAuth = () => ({ 'X-Auth-Token': s.master.token });

  beforeAll(async () => {
    s = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'none' }, log: createLogger('debug', (l) => seenLines.push(l)) });
  });
  afterAll(() => s.close());

  // lowdb-specific: reads or alters DATA_DIR's files (the PostgreSQL store: test/store/postgres-*.test.ts).
  it.skipIf(testStore === 'postgres')('only in the own phone\'s file: not in logs, views, listings, shared files, other accounts\' phones or plain on disk', async () => {
    const A = s.master.accountId;
    const yealink = { endpoint_brand: 'yealink', endpoint_family: 't4x', endpoint_model: 'T46S' };
    await s.http().patch(`/v2/accounts/${A}`).set(sAuth()).send({
      data: { provisioning: { http_auth: { type: 'basic', username: 'phones', password: HTTP_PW }, settings: { user_password: ACCOUNT_USER_PW } } },
    }).expect(200);
    const mine = await s.http().put(`/v2/accounts/${A}/devices`).set(sAuth()).send({
      data: { name: 'Mine', mac_address: '00:15:65:cc:00:01', sip: { username: 'pmine', password: 'pmine-sip' }, provision: { ...yealink, settings: { admin_password: DEVICE_ADMIN } } },
    });
    expect(mine.status).toBe(201);
    const basic = `Basic ${Buffer.from(`phones:${HTTP_PW}`).toString('base64')}`;
    const ua = 'Yealink SIP-T46S 66.86.0.15 00:15:65:cc:00:01';
    const own = await s.http().get('/provision/001565cc0001.cfg').set('User-Agent', ua).set('Authorization', basic);
    expect(own.status).toBe(200);
    expect(own.text).toContain(DEVICE_ADMIN);
    expect(own.text).toContain(HTTP_PW); // the phone-side credentials, so the phone can fetch again

    // Another account's phone.
    const sub = await s.http().put(`/v2/accounts/${A}`).set(sAuth()).send({ data: { name: 'Other Co', realm: 'other.test' } });
    expect(sub.status).toBe(201);
    const B = sub.body.data.id;
    await s.http().put(`/v2/accounts/${B}/devices`).set(sAuth()).send({
      data: { name: 'Theirs', mac_address: '00:15:65:cc:00:02', sip: { username: 'ptheirs', password: 'ptheirs-sip' }, provision: yealink },
    }).expect(201);
    const seen: string[] = [];
    seen.push((await s.http().get('/provision/001565cc0002.cfg').set('User-Agent', 'Yealink SIP-T46S 66.86.0.15 00:15:65:cc:00:02')).text);
    seen.push((await s.http().get('/provision/y000000000066.cfg').set('User-Agent', ua).set('Authorization', basic)).text);
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}`).set(sAuth())).body));
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/devices`).set(sAuth())).body));
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/devices/${mine.body.data.id}`).set(sAuth())).body));
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/children`).set(sAuth())).body));
    for (const text of seen) for (const secret of [DEVICE_ADMIN, ACCOUNT_USER_PW, HTTP_PW]) expect(text).not.toContain(secret);

    await s.server.close();
    const log = seenLines.join('\n');
    for (const secret of [DEVICE_ADMIN, ACCOUNT_USER_PW, HTTP_PW]) expect(log).not.toContain(secret);
    // On disk: the device's own password beside its SIP password in the device shard; the account's sealed.
    const files = (await readdir(s.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const holders: Record<string, string[]> = { [DEVICE_ADMIN]: [], [ACCOUNT_USER_PW]: [], [HTTP_PW]: [] };
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      for (const secret of Object.keys(holders)) if (text.includes(secret)) holders[secret]!.push(path.relative(s.dataDir, file));
    }
    expect(holders[DEVICE_ADMIN]).toHaveLength(1);
    expect(holders[DEVICE_ADMIN]![0]).toMatch(/^accounts\/[0-9a-f]{32}\/devices\/shard-\d{4}\.json$/);
    expect(holders[ACCOUNT_USER_PW]).toEqual([]);
    expect(holders[HTTP_PW]).toEqual([]);
  });
});

/** A DECT base of each vendor with multi-account files: its own file, another phone of the vendor, its shared files. */
const BASES = [
  {
    vendor: 'Yealink W60B', model: { endpoint_brand: 'yealink', endpoint_model: 'W60B' }, mac: '00:15:65:dd:00:01',
    ua: 'Yealink W60B 77.83.0.85 00:15:65:dd:00:01', own: '/provision/001565dd0001.cfg',
    desk: { mac: '00:15:65:dd:00:02', model: { endpoint_brand: 'yealink', endpoint_model: 'T46S' }, file: '/provision/001565dd0002.cfg', ua: 'Yealink SIP-T46S 66.86.0.15 00:15:65:dd:00:02' },
    shared: ['/provision/y000000000077.cfg', '/provision/001565dd0001.boot'],
  },
  {
    vendor: 'Grandstream DP750', model: { endpoint_brand: 'grandstream', endpoint_model: 'DP750' }, mac: '00:0b:82:dd:00:01',
    ua: 'Grandstream Model HW DP750 SW 1.0.13.8 DevId 000b82dd0001', own: '/provision/cfg000b82dd0001.xml',
    desk: { mac: '00:0b:82:dd:00:02', model: { endpoint_brand: 'grandstream', endpoint_model: 'GXP2135' }, file: '/provision/cfg000b82dd0002.xml', ua: 'Grandstream Model HW GXP2135 SW 1.0.11.23 DevId 000b82dd0002' },
    shared: ['/provision/phonebook.xml'],
  },
];

describe.each(BASES)('a handset\'s SIP password (provision.lines) appears only in its base\'s file: $vendor', (b) => {
  const LINE_PW = 'Ln-unique-handset-pw-44';
  const seenLines: string[] = [];
  let s: TestServer;
  const sAuth = () => ({ 'X-Auth-Token': s.master.token });

  beforeAll(async () => {
    s = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'none' }, log: createLogger('debug', (l) => seenLines.push(l)) });
  });
  afterAll(() => s.close());

  it('in the base\'s file; not in logs, views, listings, shared files or another phone\'s file', async () => {
    const A = s.master.accountId;
    const line = await s.http().put(`/v2/accounts/${A}/devices`).set(sAuth()).send({ data: { name: 'Handset 2', sip: { username: 'hset2', password: LINE_PW } } });
    expect(line.status).toBe(201);
    const base = await s.http().put(`/v2/accounts/${A}/devices`).set(sAuth()).send({
      data: { name: 'Base', mac_address: b.mac, sip: { username: 'hset1', password: 'hset1-sip' }, provision: { ...b.model, lines: { '1': { device_id: line.body.data.id } } } },
    });
    expect(base.status).toBe(201);
    await s.http().put(`/v2/accounts/${A}/devices`).set(sAuth()).send({
      data: { name: 'Desk', mac_address: b.desk.mac, sip: { username: 'desk2', password: 'desk2-sip' }, provision: b.desk.model },
    }).expect(201);
    const own = await s.http().get(b.own).set('User-Agent', b.ua);
    expect(own.status).toBe(200);
    expect(own.text).toContain(LINE_PW);

    const seen: string[] = [];
    const desk = await s.http().get(b.desk.file).set('User-Agent', b.desk.ua);
    expect(desk.status).toBe(200);
    seen.push(desk.text);
    for (const shared of b.shared) {
      const res = await s.http().get(shared).set('User-Agent', b.ua);
      expect(res.status, shared).toBe(200);
      seen.push(res.text);
    }
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/devices`).set(sAuth())).body));
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/devices?accept=csv`).set(sAuth())).text));
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/devices/${base.body.data.id}`).set(sAuth())).body));
    seen.push(JSON.stringify((await s.http().get(`/v2/accounts/${A}/devices/${base.body.data.id}/config`).set(sAuth())).body));
    seen.push(JSON.stringify(base.body));
    for (const text of seen) expect(text).not.toContain(LINE_PW);
    await s.server.close();
    expect(seenLines.join('\n')).not.toContain(LINE_PW);
    // On disk only in device shards (the handset's own document and the base's private copy); on PostgreSQL the
    // documents are in the database, so DATA_DIR holds it nowhere (rendered files kept there included).
    const files = (await readdir(s.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const holders: string[] = [];
    for (const file of files) if ((await readFile(file, 'utf8')).includes(LINE_PW)) holders.push(path.relative(s.dataDir, file));
    if (testStore === 'postgres') expect(holders).toEqual([]);
    else expect(holders.length).toBeGreaterThan(0);
    for (const h of holders) expect(h).toMatch(/^accounts\/[0-9a-f]{32}\/devices\/shard-\d{4}\.json$/);
  });
});
