import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });

beforeAll(async () => {
  t = await startTestServer({ env: { MAX_BODY_BYTES: '2048' } });
});
afterAll(() => t.close());

describe('error classes, all in the Kazoo error envelope', () => {
  it('400 for invalid JSON, with the parser message', async () => {
    const res = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).set('Content-Type', 'application/json').send('{"data":{"name":');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: '400', message: 'validation error', status: 'error' });
    expect(res.body.data.json.invalid.target).toBe('body');
  });

  it('400 when data is not an object', async () => {
    const res = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({ data: 'device' });
    expect(res.status).toBe(400);
  });

  it('413 for an oversized body, and nothing is stored', async () => {
    const res = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).send({ data: { name: 'big', blob: 'x'.repeat(5000) } });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: '413', status: 'error' });
    const list = await t.http().get(`/v2/accounts/${t.master.accountId}/devices?filter_name=big`).set(auth());
    expect(list.body.data).toEqual([]);
  });

  it('405 for verbs a path does not support', async () => {
    for (const [verb, path] of [
      ['delete', `/v2/accounts/${t.master.accountId}/devices`],
      ['post', `/v2/accounts/${t.master.accountId}/devices`],
      ['get', '/v2/api_auth'],
    ] as const) {
      const res = await t.http()[verb](path).set(auth());
      expect(res.status).toBe(405);
      expect(res.body).toMatchObject({ error: '405', message: 'invalid_method', data: { message: 'method not allowed' } });
    }
  });

  it('404 not_found for unknown paths, with the envelope', async () => {
    const res = await t.http().get(`/v2/accounts/${t.master.accountId}/devices/abc/frobnicate`).set(auth());
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: '404', message: 'not_found', status: 'error' });
    expect((await t.http().get('/v2/nothing-here').set(auth())).status).toBe(404);
  });

  it('CORS headers on every answer and on preflight', async () => {
    const pre = await t.http().options(`/v2/accounts/${t.master.accountId}/devices`).set('Origin', 'https://ui.example').set('Access-Control-Request-Method', 'PUT');
    expect(pre.status).toBe(200);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-methods']).toContain('PATCH');
    expect(pre.headers['access-control-allow-headers']).toContain('X-Auth-Token');
    const res = await t.http().get(`/v2/accounts/${t.master.accountId}/devices`).set(auth());
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-ID');
  });

  it('odd inputs never produce a 500', async () => {
    const A = t.master.accountId;
    const probes = [
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'n', sip: 'not-an-object' } }),
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'n', provision: { feature_keys: [1, 2] } } }),
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: [1, 2, 3] }),
      t.http().patch(`/v2/accounts/${A}/devices/${'%00'.repeat(3)}`).set(auth()).send({ data: {} }),
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'n', mac_address: 12 } }),
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'n', hotdesk: { users: { short: {} } } } }),
    ];
    for (const res of await Promise.all(probes)) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.status).toBe('error');
    }
    // array/object query values are read leniently, never crash
    const odd = await t.http().get(`/v2/accounts/${A}/devices?page_size[]=1&filter_name[x]=y`).set(auth());
    expect(odd.status).toBe(200);
    expect(odd.body.page_size).toBeLessThanOrEqual(1);
  });
});

describe('access log', () => {
  it('logs one line per API request without the token or the query string', async () => {
    const { createLogger } = await import('../../src/log.js');
    const { createApp } = await import('../../src/app.js');
    const lines: string[] = [];
    const app = createApp({
      config: t.config,
      log: createLogger('info', (l) => lines.push(l)),
      store: t.server.store,
      events: t.server.events,
      tokens: t.server.tokens,
    });
    const request = (await import('supertest')).default;
    await request(app).get(`/v2/accounts/${t.master.accountId}/devices?auth_token=${encodeURIComponent(t.master.token)}`);
    const entry = JSON.parse(lines.find((l) => l.includes('"api"'))!);
    expect(entry).toMatchObject({ method: 'GET', path: `/v2/accounts/${t.master.accountId}/devices`, status: 200 });
    expect(lines.join('\n')).not.toContain(t.master.token);
  });
});

describe('body content types', () => {
  it('parses the JSON envelope whatever the Content-Type: fetch() sends text/plain for a string body', async () => {
    const res = await fetch(`${t.url}/v2/api_auth`, { method: 'PUT', body: JSON.stringify({ data: { api_key: t.master.apiKey } }) });
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(res.status).toBe(201);
    const created = await fetch(`${t.url}/v2/accounts/${t.master.accountId}/devices`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': t.master.token },
      body: JSON.stringify({ data: { name: 'from fetch' } }),
    });
    expect(created.status).toBe(201);
    const broken = await fetch(`${t.url}/v2/accounts/${t.master.accountId}/devices`, { method: 'PUT', headers: { 'X-Auth-Token': t.master.token, 'Content-Type': 'text/plain' }, body: '{"data":' });
    expect(broken.status).toBe(400);
    const notJson = await fetch(`${t.url}/v2/accounts/${t.master.accountId}/devices`, { method: 'PUT', headers: { 'X-Auth-Token': t.master.token, 'Content-Type': 'text/plain' }, body: 'hello' });
    expect(notJson.status).toBe(400);
  });
});
