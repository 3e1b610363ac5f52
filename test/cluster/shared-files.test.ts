import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase } from '../helpers/postgres.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { productionParts } from '../../src/parts.js';

/**
 * Two nodes (API and provisioning, in-process) on one PostgreSQL database: the files written through one node —
 * template overrides through the API, uploads by a phone — are the files the other node serves.
 * Every wait is a bounded number of asks, each ending as soon as the other node answers as expected.
 */
let a: TestServer;
let b: TestServer;
let env: Record<string, string>;
const YEALINK_MAC = '001565d40001';
const POLYCOM_MAC = '0004f2d40001';
const yealinkUa = `Yealink SIP-T46S 66.86.0.15 ${YEALINK_MAC.match(/../g)!.join(':')}`;
const polycomUa = `FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:${POLYCOM_MAC}) Type/Application`;

async function until<T>(ask: () => Promise<T>, holds: (value: T) => boolean, asks = 100): Promise<T> {
  let value = await ask();
  for (let i = 1; i < asks && !holds(value); i++) {
    await new Promise((r) => setTimeout(r, 50));
    value = await ask();
  }
  return value;
}

beforeAll(async () => {
  env = { DATABASE_URL: await createDatabase(inject('postgresUrl')), SECRETS_KEY_FILE: `${await tempDir()}/secrets.key` };
  const parts = { provisioning: productionParts.provisioning };
  a = await startTestServer({ env, parts });
  b = await startTestServer({ env, parts });
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
});

const auth = (t: TestServer) => ({ 'X-Auth-Token': t.master.token });

async function device(data: Record<string, unknown>): Promise<string> {
  const made = await a.http().put(`/v2/accounts/${a.master.accountId}/devices`).set(auth(a)).send({ data });
  expect(made.status, made.text).toBe(201);
  const id = made.body.data.id as string;
  await until(async () => b.server.store.getDevice(a.master.accountId, id), (d) => d !== undefined);
  return id;
}

describe('files shared by the nodes of a cluster', () => {
  it('a template override PUT through one node is what the other serves, at the account and the device layer, and its removal too', async () => {
    const id = await device({ name: 'Shared Files', mac_address: YEALINK_MAC, sip: { username: 'sf1', password: 'pw-sf1' } });
    const cfg = () => b.http().get(`/provision/${YEALINK_MAC}.cfg`).set('User-Agent', yealinkUa);
    const builtin = (await cfg()).text;
    expect(builtin).toContain('account.1.display_name = Shared Files');
    const template = (marker: string) => `#!version:1.0.0.1\n## ${marker}\naccount.1.display_name = {{device.name}}\n`;
    const account = `/v2/accounts/${a.master.accountId}/provisioning/templates/yealink/mac.cfg`;
    const put = await a.http().put(account).set(auth(a)).send({ data: { template: template('account layer') } });
    expect(put.status, put.text).toBe(200);
    expect((await until(cfg, (r) => r.text.includes('## account layer'))).text).toContain('## account layer');
    // B's API shows it at the layer it was put, as A's does.
    expect((await b.http().get(account).set(auth(b))).body.data).toMatchObject({ layer: 'account', template: template('account layer') });

    const deviceLayer = `/v2/accounts/${a.master.accountId}/devices/${id}/provisioning/templates/yealink/mac.cfg`;
    expect((await b.http().put(deviceLayer).set(auth(b)).send({ data: { template: template('device layer') } })).status).toBe(200);
    const onA = () => a.http().get(`/provision/${YEALINK_MAC}.cfg`).set('User-Agent', yealinkUa);
    expect((await until(onA, (r) => r.text.includes('## device layer'))).text).toContain('## device layer');

    expect((await a.http().delete(deviceLayer).set(auth(a))).status).toBe(200);
    expect((await a.http().delete(account).set(auth(a))).status).toBe(200);
    expect((await until(cfg, (r) => r.text === builtin)).text).toBe(builtin);
  });

  it('a file a phone uploads through one node is listed and served back by the other; a re-upload replaces it there', async () => {
    const id = await device({ name: 'Uploader', mac_address: POLYCOM_MAC });
    const upload = (t: TestServer, body: string) => t.http().put(`/provision/${POLYCOM_MAC}-phone.cfg`).set('User-Agent', polycomUa).set('Content-Type', 'text/xml').send(body);
    expect((await upload(a, '<PHONE_CONFIG><ALL up.one="1"/></PHONE_CONFIG>')).status).toBe(201);
    const readBack = () => b.http().get(`/provision/${POLYCOM_MAC}-phone.cfg`).set('User-Agent', polycomUa).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
    });
    expect((await until(readBack, (r) => r.status === 200)).body).toBe('<PHONE_CONFIG><ALL up.one="1"/></PHONE_CONFIG>');
    const listed = await b.http().get(`/v2/accounts/${a.master.accountId}/devices/${id}/provision_uploads`).set(auth(b));
    expect((listed.body.data as Array<{ name: string }>).map((f) => f.name)).toEqual([`${POLYCOM_MAC}-phone.cfg`]);

    expect((await upload(b, '<PHONE_CONFIG><ALL up.two="2"/></PHONE_CONFIG>')).status).toBeLessThan(300);
    const onA = () => a.http().get(`/v2/accounts/${a.master.accountId}/devices/${id}/provision_uploads/${POLYCOM_MAC}-phone.cfg`).set(auth(a));
    expect((await until(onA, (r) => r.text.includes('up.two'))).text).toContain('up.two');
  });

  it('an override a node kept on its own disk before it joined the cluster is copied up and served by the others', async () => {
    const mac = '001565d40002';
    const id = await device({ name: 'Joined Later', mac_address: mac });
    const dataDir = await tempDir();
    // The device layer (the account layer's mac.cfg already has a word in the cluster: its removal above).
    const dir = path.join(dataDir, 'provisioning', 'templates', 'accounts', a.master.accountId, 'devices', id, 'yealink');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'mac.cfg.hbs'), '#!version:1.0.0.1\n## kept on c before the cluster\naccount.1.display_name = {{device.name}}\n');
    const c = await startTestServer({ env, parts: { provisioning: productionParts.provisioning }, dataDir });
    try {
      const onA = () => a.http().get(`/provision/${mac}.cfg`).set('User-Agent', `Yealink SIP-T46S 66.86.0.15 ${mac.match(/../g)!.join(':')}`);
      expect((await until(onA, (r) => r.text.includes('## kept on c'))).text).toContain('## kept on c before the cluster');
    } finally {
      await c.close();
      expect((await a.http().delete(`/v2/accounts/${a.master.accountId}/devices/${id}/provisioning/templates/yealink/mac.cfg`).set(auth(a))).status).toBe(200);
    }
  });
});
