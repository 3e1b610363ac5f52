import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { readKeyValue } from './support/readers.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const acct = `/v2/accounts/${ACCOUNT}`;
const yealinkTpl = (marker: string) => `#!version:1.0.0.1\naccount.1.user_name = {{sip.username}}\naccount.1.password = {{sip.password}}\nmarker = ${marker}\n`;

describe('template upload', () => {
  it('accepts a valid template ({"data":{"template"}}), stores it under DATA_DIR and serves it without restart', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    expect(readKeyValue((await h.get('001565aabbcc.cfg')).body).has('marker')).toBe(false);
    const put = await request(h.base).put(`${acct}/provisioning/templates/yealink/mac.cfg`).send({ data: { template: yealinkTpl('account') } });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ vendor: 'yealink', name: 'mac.cfg', layer: 'account' });
    expect(existsSync(path.join(h.dataDir, 'provisioning', 'templates', 'accounts', ACCOUNT, 'yealink', 'mac.cfg.hbs'))).toBe(true);
    const kv = readKeyValue((await h.get('001565aabbcc.cfg')).body);
    expect(kv.get('marker')).toBe('account');
    expect(kv.get('account.1.password')).toBe('s3cret!');
    expect(h.events).toContainEqual({ type: 'templates.changed', accountId: ACCOUNT, deviceId: undefined, vendor: 'yealink' });
    const got = await request(h.base).get(`${acct}/provisioning/templates/yealink/mac.cfg`);
    expect(got.body.data).toMatchObject({ layer: 'account', template: yealinkTpl('account') });
  });

  it('accepts a raw text/plain body', async () => {
    h = await startHarness();
    const put = await request(h.base).put(`${acct}/provisioning/templates/yealink/mac.cfg`).set('Content-Type', 'text/plain').send(yealinkTpl('raw'));
    expect(put.status).toBe(200);
    expect(put.body.data.template).toBe(yealinkTpl('raw'));
  });

  it.each([
    ['yealink', 'mac.cfg', '#!version:1.0.0.1\n{{#if sip.username}}\nx = 1\n', 'template', /Parse error|line/i],
    ['yealink', 'mac.cfg', '#!version:1.0.0.1\nthis line has no equals sign\n', 'template', /line 2/],
    ['yealink', 'mac.cfg', 'account.1.enable = 1\n', 'template', /line 1.*#!version:1\.0\.0\.1/],
    ['polycom', 'mac-user.cfg', '<polycomConfig>\n<reg reg.1.address="{{sip.username}}">\n</polycomConfig>\n', 'template', /line 3/],
    // bypassing escaping breaks the XML for the sample device (whose values contain & < > " ')
    ['grandstream', 'cfgmac.xml', '<gs_provision version="1"><config version="1"><P3>{{{displayName}}}</P3></config></gs_provision>', 'template', /./],
    ['grandstream', 'cfgmac.xml', '<gs_provision>{{nosuchhelper sip.username}}</gs_provision>', 'template', /nosuchhelper/],
  ])('rejects %s/%s that does not compile or render to a valid file, keeping the previous one', async (vendor, name, source, key, reason) => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcc' });
    seedFullDevice(h, { id: 'dp', mac: '0004f2aabbcc' });
    seedFullDevice(h, { id: 'dg', mac: '000b82aabbcc' });
    const file = { yealink: '001565aabbcc.cfg', polycom: '0004f2aabbcc-user.cfg', grandstream: 'cfg000b82aabbcc.xml' }[vendor]!;
    const before = (await h.get(file)).body;
    const put = await request(h.base).put(`${acct}/provisioning/templates/${vendor}/${name}`).send({ data: { template: source } });
    expect(put.status).toBe(400);
    expect(put.body).toMatchObject({ error: '400', message: 'validation error', status: 'error' });
    const detail = put.body.data[key].invalid_template;
    expect(detail.message).toMatch(reason);
    expect(detail.target).toBe(name);
    expect((await h.get(file)).body).toBe(before);
    expect(h.events.filter((e) => e.type === 'templates.changed')).toEqual([]);
  });

  it('reports the line of a parse error', async () => {
    h = await startHarness();
    const put = await request(h.base)
      .put(`${acct}/provisioning/templates/yealink/mac.cfg`)
      .send({ data: { template: '#!version:1.0.0.1\na = 1\nb = {{foo}\nc = 2\n' } });
    expect(put.status).toBe(400);
    expect(put.body.data.template.invalid_template.line).toBe(3);
  });

  it('refuses unknown vendors and template names outside the whitelist', async () => {
    h = await startHarness();
    for (const p of ['nokia/mac.cfg', 'yealink/..%2F..%2Fetc', 'yealink/other.cfg', 'yealink/MAC.CFG', 'yealink/%2e%2e', 'polycom/mac.cfg.hbs']) {
      const res = await request(h.base).put(`${acct}/provisioning/templates/${p}`).send({ data: { template: 'x' } });
      expect(res.status, p).toBe(404);
    }
    const missing = await request(h.base).put(`${acct}/provisioning/templates/yealink/mac.cfg`).send({ data: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.data.template.required).toBeDefined();
  });
});

describe('override layers', () => {
  it('device beats account beats built-in; deleting falls back layer by layer', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'd1', mac: '001565000001' });
    seedFullDevice(h, { id: 'd2', mac: '001565000002' });
    const marker = async (mac: string) => readKeyValue((await h.get(`${mac}.cfg`)).body).get('marker');
    await request(h.base).put(`${acct}/provisioning/templates/yealink/mac.cfg`).send({ data: { template: yealinkTpl('account') } }).expect(200);
    await request(h.base).put(`${acct}/devices/d1/provisioning/templates/yealink/mac.cfg`).send({ data: { template: yealinkTpl('device') } }).expect(200);
    expect(await marker('001565000001')).toBe('device');
    expect(await marker('001565000002')).toBe('account');
    const list = await request(h.base).get(`${acct}/devices/d1/provisioning/templates`).expect(200);
    expect(list.body.data).toContainEqual({ vendor: 'yealink', template: 'mac.cfg', layer: 'device' });
    expect(list.body.data).toContainEqual({ vendor: 'polycom', template: 'mac-user.cfg', layer: 'builtin' });

    const del = await request(h.base).delete(`${acct}/devices/d1/provisioning/templates/yealink/mac.cfg`).expect(200);
    expect(del.body.data.layer).toBe('account');
    expect(await marker('001565000001')).toBe('account');
    await request(h.base).delete(`${acct}/provisioning/templates/yealink/mac.cfg`).expect(200);
    expect(await marker('001565000001')).toBeUndefined();
    expect(readKeyValue((await h.get('001565000001.cfg')).body).get('account.1.enable')).toBe('1');
    await request(h.base).delete(`${acct}/provisioning/templates/yealink/mac.cfg`).expect(404);
  });

  it('overrides survive a restart (kept under DATA_DIR)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'prov-persist-'));
    h = await startHarness({ dataDir });
    await request(h.base).put(`${acct}/provisioning/templates/yealink/mac.cfg`).send({ data: { template: yealinkTpl('kept') } }).expect(200);
    await h.close();
    h = await startHarness({ dataDir });
    seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
    expect(readKeyValue((await h.get('001565aabbcc.cfg')).body).get('marker')).toBe('kept');
    await h.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a device override for another account is refused (device must belong to the account)', async () => {
    h = await startHarness();
    h.dir.addAccount({ id: 'b0000000000000000000000000000002', realm: 'other.example.com' });
    h.dir.addDevice('b0000000000000000000000000000002', { id: 'foreign', name: 'x', mac_address: '001565000009' });
    const res = await request(h.base).put(`${acct}/devices/foreign/provisioning/templates/yealink/mac.cfg`).send({ data: { template: yealinkTpl('x') } });
    expect(res.status).toBe(404);
  });
});

describe('preview', () => {
  it('lists the files the phone will fetch and returns each exactly as the phone gets it', async () => {
    h = await startHarness();
    seedFullDevice(h, { id: 'dy', mac: '001565aabbcc', model: 'T46S' });
    const list = await request(h.base).get(`${acct}/devices/dy/config`).expect(200);
    expect(list.body.data.map((f: { name: string }) => f.name)).toEqual(['001565aabbcc.boot', 'y000000000066.cfg', '001565aabbcc.cfg', '001565aabbcc-phonebook.xml']);
    expect(list.body.data[2]).toMatchObject({ vendor: 'yealink', per_device: true, url: '/provision/001565aabbcc.cfg', layer: 'builtin' });
    const preview = await request(h.base).get(`${acct}/devices/dy/config/001565aabbcc.cfg`).expect(200);
    expect(preview.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(preview.headers['cache-control']).toBe('no-store');
    const phone = await h.get('001565aabbcc.cfg', { 'User-Agent': 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc' });
    expect(preview.text).toBe(phone.body);
    await request(h.base).get(`${acct}/devices/dy/config/cfg001565aabbcc.xml`).expect(404);
    await request(h.base).get(`${acct}/devices/nope/config`).expect(404);

    seedFullDevice(h, { id: 'dp', mac: '0004f2aabbcc' });
    const poly = await request(h.base).get(`${acct}/devices/dp/config`).expect(200);
    expect(poly.body.data.map((f: { name: string }) => f.name)).toEqual(['0004f2aabbcc.cfg', '0004f2aabbcc-user.cfg', '0004f2aabbcc-directory.xml']);
  });
});
