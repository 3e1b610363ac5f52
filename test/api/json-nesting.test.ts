import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonNestingExceeds, jsonShapeProblem, MAX_JSON_DEPTH, MAX_JSON_MEMBERS } from '../../src/http/json-depth.js';
import { loopDelayUnderLoadMs } from '../helpers/event-loop.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** `{"data":{"name":…,"x":<value nested `levels` deep>}}` as raw text (JSON.stringify would recurse). */
function deepDevice(name: string, levels: number, kind: 'object' | 'array'): string {
  const [open, close] = kind === 'object' ? ['{"a":', '}'] : ['[', ']'];
  return `{"data":{"name":"${name}","x":${open.repeat(levels)}1${close.repeat(levels)}}}`;
}

describe('jsonNestingExceeds (raw-text scan)', () => {
  it('counts objects and arrays alike, stopping over the limit', () => {
    expect(jsonNestingExceeds('[[[1]]]', 3)).toBe(false);
    expect(jsonNestingExceeds('[[[[1]]]]', 3)).toBe(true);
    expect(jsonNestingExceeds('{"a":{"b":[{}]}}', 4)).toBe(false);
    expect(jsonNestingExceeds('{"a":{"b":[{"c":[]}]}}', 4)).toBe(true);
    // Siblings do not add up: depth is the deepest path, not the bracket count.
    expect(jsonNestingExceeds('[[1],[2],[3],[4],[5]]', 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestingExceeds(`{"s":"${'['.repeat(500)}"}`, 2)).toBe(false);
    expect(jsonNestingExceeds(`{"s":"\\"${'{'.repeat(500)}\\\\"}`, 2)).toBe(false);
    expect(jsonNestingExceeds(`{"s":"\\\\",${'['.repeat(3)}`, 2)).toBe(true);
  });
});

describe('jsonShapeProblem (members)', () => {
  it('counts members and elements by their separators, outside strings only', () => {
    expect(jsonShapeProblem('{"a":1,"b":[1,2,3,4]}', 64, 5)).toBeUndefined(); // 2 members + 3 commas between elements
    expect(jsonShapeProblem('{"a":1,"b":[1,2,3,4,5]}', 64, 5)).toBe('members');
    expect(jsonShapeProblem('{"a":1,"b":2,"c":3,"d":{"e":4,"f":5}}', 64, 5)).toBe('members');
    expect(jsonShapeProblem(`{"s":"${',:'.repeat(1000)}"}`, 64, 5)).toBeUndefined();
  });
});

describe('request bodies with too many members', () => {
  let t: TestServer;
  const auth = () => ({ 'X-Auth-Token': t.master.token });
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it(`a device of 50,000 keys is refused with 400 before any work; ${MAX_JSON_MEMBERS} in all pass`, async () => {
    const wide = (keys: number) => JSON.stringify({ data: { name: `wide-${keys}`, ...Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, i])) } });
    const body = wide(50_000); // built outside the measure: building it is the test's own work
    const { result: res, maxMs } = await loopDelayUnderLoadMs(() => t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).set('Content-Type', 'application/json').send(body), 200);
    expect(res.status).toBe(400);
    expect(res.body.data.json.invalid.message).toContain(`more than ${MAX_JSON_MEMBERS} members`);
    expect(maxMs).toBeLessThan(200);
    const list = await t.http().get(`/v2/accounts/${t.master.accountId}/devices?filter_name=wide-50000`).set(auth());
    expect(list.body.data).toEqual([]);
    // The envelope, data and name take three of the members.
    const fits = await t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth()).set('Content-Type', 'application/json').send(wide(MAX_JSON_MEMBERS - 3));
    expect(fits.status, fits.text).toBe(201);
  });
});

describe('deeply nested request bodies', () => {
  let t: TestServer;
  let A: string;
  const auth = () => ({ 'X-Auth-Token': t.master.token });
  const stored = async (name: string) => (await t.http().get(`/v2/accounts/${A}/devices?filter_name=${name}`).set(auth())).body.data as unknown[];

  beforeAll(async () => {
    t = await startTestServer();
    A = t.master.accountId;
  });
  afterAll(() => t.close());

  for (const levels of [1_000, 10_000, 100_000]) {
    for (const kind of ['object', 'array'] as const) {
      it(`${levels} levels of ${kind}s: 400 in the envelope, nothing stored, event loop free`, async () => {
        const name = `deep-${kind}-${levels}`;
        const body = deepDevice(name, levels, kind); // built outside the measure: building it is the test's own work
        const { result: res, maxMs } = await loopDelayUnderLoadMs(
          () => t.http().put(`/v2/accounts/${A}/devices`).set(auth()).set('Content-Type', 'application/json').send(body),
          200,
        );
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ error: '400', message: 'validation error', status: 'error' });
        expect(res.body.data.json.invalid.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
        expect(await stored(name)).toEqual([]);
        expect(maxMs).toBeLessThan(200);
      });
    }
  }

  it('the same bound holds for text/plain bodies and for PATCH, POST and accounts/users', async () => {
    const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'patched' } });
    const D = made.body.data.id as string;
    const deep = deepDevice('patched', 5_000, 'object');
    const answers = await Promise.all([
      t.http().put(`/v2/accounts/${A}/devices`).set(auth()).set('Content-Type', 'text/plain').send(deepDevice('deep-text', 5_000, 'array')),
      t.http().patch(`/v2/accounts/${A}/devices/${D}`).set(auth()).set('Content-Type', 'application/json').send(deep),
      t.http().post(`/v2/accounts/${A}/devices/${D}`).set(auth()).set('Content-Type', 'application/json').send(deep),
      t.http().patch(`/v2/accounts/${A}`).set(auth()).set('Content-Type', 'application/json').send(deep),
      t.http().put(`/v2/accounts/${A}/users`).set(auth()).set('Content-Type', 'application/json').send(deep),
      t.http().put('/v2/api_auth').set('Content-Type', 'application/json').send(deep),
    ]);
    expect(answers.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400]);
    expect(await stored('deep-text')).toEqual([]);
    const after = await t.http().get(`/v2/accounts/${A}/devices/${D}`).set(auth());
    expect(after.body.data.x).toBeUndefined();
  });

  it(`20 levels (and the limit, ${MAX_JSON_DEPTH} in all) are stored, patched and read back`, async () => {
    const put = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).set('Content-Type', 'application/json').send(deepDevice('twenty', 20, 'object'));
    expect(put.status).toBe(201);
    let node = put.body.data.x;
    for (let i = 0; i < 20; i++) node = node.a;
    expect(node).toBe(1);
    // The envelope and data take 2 levels: 62 more fit exactly, 63 do not.
    const atLimit = await t.http().patch(`/v2/accounts/${A}/devices/${put.body.data.id}`).set(auth()).set('Content-Type', 'application/json').send(deepDevice('twenty', MAX_JSON_DEPTH - 2, 'array'));
    expect(atLimit.status).toBe(200);
    const over = await t.http().patch(`/v2/accounts/${A}/devices/${put.body.data.id}`).set(auth()).set('Content-Type', 'application/json').send(deepDevice('twenty', MAX_JSON_DEPTH - 1, 'array'));
    expect(over.status).toBe(400);
  });
});
