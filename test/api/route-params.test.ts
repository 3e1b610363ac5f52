import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionParts } from '../../src/parts.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Path segments that are not valid percent-encoding (L2 of the drills: `%ff` answered 500 URIError). */
const UNDECODABLE = ['%ff', '%', 'ab%zz', '%E0%A4%A', '%ff'.repeat(50)];

let t: TestServer;
let A: string;
let D: string;
let U: string;
const auth = () => ({ 'X-Auth-Token': t.master.token });
type Verb = 'get' | 'put' | 'post' | 'patch' | 'delete';

beforeAll(async () => {
  // Production parts with SIP off: the device-actions, config and template routes are all mounted.
  t = await startTestServer({ parts: productionParts });
  A = t.master.accountId;
  const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'desk' } });
  D = made.body.data.id;
  U = t.master.userId;
});
afterAll(() => t.close());

const send = (verb: Verb, path: string, token = true) => {
  const req = t.http()[verb](path);
  if (token) req.set(auth());
  return verb === 'get' || verb === 'delete' ? req : req.send({ data: { name: 'x' } });
};

describe('undecodable route parameters answer in Kazoo envelopes, never 500', () => {
  it('a device id: 404 bad_identifier with the id as cause, on every verb and device route', async () => {
    for (const bad of UNDECODABLE) {
      const routes: Array<[Verb, string]> = [
        ['get', `/v2/accounts/${A}/devices/${bad}`],
        ['post', `/v2/accounts/${A}/devices/${bad}`],
        ['patch', `/v2/accounts/${A}/devices/${bad}`],
        ['delete', `/v2/accounts/${A}/devices/${bad}`],
        ['put', `/v2/accounts/${A}/devices/${bad}`],
        ['post', `/v2/accounts/${A}/devices/${bad}/sync`],
        ['post', `/v2/accounts/${A}/devices/${bad}/notify`],
        ['get', `/v2/accounts/${A}/devices/${bad}/quickcall/100`],
        ['get', `/v2/accounts/${A}/devices/${bad}/config`],
        ['get', `/v2/accounts/${A}/devices/${bad}/config/x.cfg`],
        ['get', `/v2/accounts/${A}/devices/${bad}/provisioning/templates`],
      ];
      for (const [verb, path] of routes) {
        const res = await send(verb, path);
        expect(res.status, `${verb} ${path}`).toBe(404);
        expect(res.body, `${verb} ${path}`).toMatchObject({ error: '404', message: 'bad_identifier', status: 'error', data: { cause: bad.slice(0, 128) } });
      }
    }
  });

  it('a user id: 404 bad_identifier', async () => {
    for (const [verb, path] of [
      ['get', `/v2/accounts/${A}/users/%ff`],
      ['post', `/v2/accounts/${A}/users/%ff`],
      ['patch', `/v2/accounts/${A}/users/%ff`],
      ['delete', `/v2/accounts/${A}/users/%ff`],
      ['get', `/v2/accounts/${A}/users/%ff/devices`],
      ['put', `/v2/accounts/${A}/users/%ff/devices`],
    ] as Array<[Verb, string]>) {
      const res = await send(verb, path);
      expect(res.status, `${verb} ${path}`).toBe(404);
      expect(res.body.message).toBe('bad_identifier');
      expect(res.body.data.cause).toBe('%ff');
    }
  });

  it("an account id: Kazoo's 404 for a malformed account id, before auth as Kazoo checks it", async () => {
    for (const token of [true, false]) {
      for (const [verb, path] of [
        ['get', '/v2/accounts/%ff'],
        ['patch', '/v2/accounts/%ff'],
        ['get', '/v2/accounts/%ff/devices'],
        ['get', `/v2/accounts/%ff/devices/${D}`],
        ['get', '/v2/accounts/%ff/users'],
      ] as Array<[Verb, string]>) {
        const res = await send(verb, path, token);
        expect(res.status, `${verb} ${path}`).toBe(404);
        expect(res.body).toMatchObject({ error: '404', message: 'bad identifier', data: { message: "invalid account_id '%ff'" } });
      }
    }
  });

  it('a template vendor or file name: 404 bad_identifier', async () => {
    for (const path of [`/v2/accounts/${A}/provisioning/templates/%ff/x.cfg`, `/v2/accounts/${A}/devices/${D}/provisioning/templates/yealink/%ff`]) {
      const res = await send('get', path);
      expect(res.status, path).toBe(404);
      expect(res.body.message).toBe('bad_identifier');
    }
  });

  it('the quickcall number: 400 on number', async () => {
    const res = await send('get', `/v2/accounts/${A}/devices/${D}/quickcall/%ff`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: '400', message: 'validation error', data: { number: { invalid: { value: '%ff' } } } });
  });

  it('auth still comes first for ids inside an account: no token is 401', async () => {
    const res = await send('get', `/v2/accounts/${A}/devices/%ff`, false);
    expect(res.status).toBe(401);
  });
});
