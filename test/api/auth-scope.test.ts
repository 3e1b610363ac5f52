import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChildAccount, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';

let t: TestServer;
/** The server's token clock: it stands still unless a test moves it, so a 2 s lifetime never lapses by itself. */
const clock = { ms: Date.now() };
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

beforeAll(async () => {
  t = await startTestServer({ env: { TOKEN_TTL_SECONDS: '2' }, now: () => clock.ms });
});
afterAll(() => t.close());

describe('api_auth and user_auth', () => {
  it('api_auth: 201 with a token and the account facts; unknown key 404; wrong length 400', async () => {
    const res = await t.http().put('/v2/api_auth').send({ data: { api_key: t.master.apiKey } });
    expect(res.status).toBe(201);
    expect(res.body.auth_token).toBeTruthy();
    expect(res.body.data).toMatchObject({ account_id: t.master.accountId, account_name: 'Master', is_master_account: true });
    const unknown = await t.http().put('/v2/api_auth').send({ data: { api_key: 'f'.repeat(64) } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('bad identifier');
    const short = await t.http().put('/v2/api_auth').send({ data: { api_key: 'abc' } });
    expect(short.status).toBe(400);
    expect(short.body.data.api_key.minLength).toBeDefined();
  });

  it('user_auth with md5("username:password") and account_name or account_realm', async () => {
    const credentials = md5('admin:admin-pass');
    const byName = await t.http().put('/v2/user_auth').send({ data: { credentials, account_name: 'Master' } });
    expect(byName.status).toBe(201);
    expect(byName.body.data).toMatchObject({ account_id: t.master.accountId, owner_id: t.master.userId });
    const byRealm = await t.http().put('/v2/user_auth').send({ data: { credentials, account_realm: 'master.test' } });
    expect(byRealm.status).toBe(201);
    const sha = createHash('sha1').update('admin:admin-pass').digest('hex');
    expect((await t.http().put('/v2/user_auth').send({ data: { credentials: sha, method: 'sha', account_realm: 'master.test' } })).status).toBe(201);
    const wrong = await t.http().put('/v2/user_auth').send({ data: { credentials: md5('admin:nope'), account_name: 'Master' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: '401', message: 'invalid_credentials', data: { message: 'invalid credentials' } });
  });

  it('accepts the token from X-Auth-Token, Authorization: Bearer and auth_token (query)', async () => {
    const path = `/v2/accounts/${t.master.accountId}/devices`;
    expect((await t.http().get(path).set('X-Auth-Token', t.master.token)).status).toBe(200);
    expect((await t.http().get(path).set('Authorization', `Bearer ${t.master.token}`)).status).toBe(200);
    expect((await t.http().get(`${path}?auth_token=${encodeURIComponent(t.master.token)}`)).status).toBe(200);
  });

  it('GET /token_auth describes the caller\'s token', async () => {
    const res = await t.http().get('/v2/token_auth').set('X-Auth-Token', t.master.token);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ account_id: t.master.accountId, method: 'api_auth' });
    expect(res.body.data.exp).toBeGreaterThan(Date.now() / 1000);
    expect((await t.http().get('/v2/token_auth')).status).toBe(401);
  });

  it('401s: none, forged, expired; revoked via DELETE /token_auth', async () => {
    const path = `/v2/accounts/${t.master.accountId}/devices`;
    const none = await t.http().get(path);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ message: 'invalid_credentials', data: { message: 'invalid credentials' } });
    const forged = await t.http().get(path).set('X-Auth-Token', `${t.master.token.split('.')[0]}.AAAA`);
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ message: 'invalid credentials', data: {} });
    const fresh = (await t.http().put('/v2/api_auth').send({ data: { api_key: t.master.apiKey } })).body.auth_token;
    expect((await t.http().delete('/v2/token_auth').set('X-Auth-Token', fresh)).status).toBe(200);
    expect((await t.http().get(path).set('X-Auth-Token', fresh)).status).toBe(401);
    const short = (await t.http().put('/v2/api_auth').send({ data: { api_key: t.master.apiKey } })).body.auth_token;
    clock.ms += 2100; // TOKEN_TTL_SECONDS=2 for this server
    expect((await t.http().get(path).set('X-Auth-Token', short)).status).toBe(401);
  });
});

describe('account scoping', () => {
  it('own and child: allowed; parent and sibling: 403; master: everything', async () => {
    const master = (await t.http().put('/v2/api_auth').send({ data: { api_key: t.master.apiKey } })).body.auth_token;
    const parent = await createChildAccount(t, master, t.master.accountId, 'parent');
    const child = await createChildAccount(t, master, parent.id, 'child');
    const sibling = await createChildAccount(t, master, t.master.accountId, 'sibling');
    const parentToken = await tokenFor(t, master, parent.id);
    const childToken = await tokenFor(t, master, child.id);
    const get = (token: string, account: string) => t.http().get(`/v2/accounts/${account}/devices`).set('X-Auth-Token', token);
    expect((await get(parentToken, parent.id)).status).toBe(200);
    expect((await get(parentToken, child.id)).status).toBe(200);
    const up = await get(childToken, parent.id);
    expect(up.status).toBe(403);
    expect(up.body).toMatchObject({ error: '403', message: 'forbidden', data: { message: 'forbidden' } });
    expect((await get(parentToken, sibling.id)).status).toBe(403);
    expect((await get(master, child.id)).status).toBe(200);
    // and the write side follows the same rule
    const write = await t.http().put(`/v2/accounts/${parent.id}/devices`).set('X-Auth-Token', childToken).send({ data: { name: 'x' } });
    expect(write.status).toBe(403);
  });

  it('account ids: malformed 404, unknown 404 bad_identifier', async () => {
    const master = (await t.http().put('/v2/api_auth').send({ data: { api_key: t.master.apiKey } })).body.auth_token;
    const malformed = await t.http().get('/v2/accounts/nope/devices').set('X-Auth-Token', master);
    expect(malformed.status).toBe(404);
    const unknown = await t.http().get(`/v2/accounts/${'0'.repeat(32)}/devices`).set('X-Auth-Token', master);
    expect(unknown.status).toBe(404);
    expect(unknown.body.data).toEqual({ cause: '0'.repeat(32), message: 'bad identifier' });
  });
});
