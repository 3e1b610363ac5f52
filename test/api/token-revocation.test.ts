import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir } from '../helpers/server.js';
import { TokenService } from '../../src/auth/tokens.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dataDir() {
  const dir = await tempDir('prov-tokens-');
  dirs.push(dir);
  return dir;
}

/** A clock the test moves by hand (milliseconds, like Date.now). */
function handClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advanceSeconds: (s: number) => (now += s * 1000) };
}

describe('DELETE /v2/token_auth survives a restart', () => {
  it('a revoked token is refused after the server restarts on the same DATA_DIR', async () => {
    const dir = await dataDir();
    const t = await startTestServer({ dataDir: dir });
    const token = t.master.token;
    const other = (await t.http().put('/v2/api_auth').send({ data: { api_key: t.master.apiKey } })).body.auth_token as string;
    expect((await t.http().delete('/v2/token_auth').set('X-Auth-Token', token)).status).toBe(200);
    expect((await t.http().get('/v2/token_auth').set('X-Auth-Token', token)).status).toBe(401);
    await t.close();
    const again = await startTestServer({ dataDir: dir });
    expect((await again.http().get('/v2/token_auth').set('X-Auth-Token', token)).status).toBe(401);
    // only that token: another one issued before the restart still works
    expect((await again.http().get('/v2/token_auth').set('X-Auth-Token', other)).status).toBe(200);
    await again.close();
  });

  it('revocations are read back from disk, and dropped from it once the token has expired anyway', async () => {
    const dir = await dataDir();
    const clock = handClock();
    const tokens = await TokenService.open(dir, 60, { now: clock.now });
    const early = tokens.issue({ account_id: 'a', method: 'api_auth' });
    clock.advanceSeconds(30);
    const late = tokens.issue({ account_id: 'a', method: 'api_auth' });
    await tokens.revoke(early.claims);
    await tokens.revoke(late.claims);
    const reopened = await TokenService.open(dir, 60, { now: clock.now });
    expect(reopened.verify(early.token)).toBeUndefined();
    expect(reopened.verify(late.token)).toBeUndefined();
    const file = path.join(dir, 'system', 'revoked-tokens.json');
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8')))).toEqual(expect.arrayContaining([early.claims.jti, late.claims.jti]));
    clock.advanceSeconds(31); // `early` has expired; `late` has not
    const third = reopened.issue({ account_id: 'a', method: 'api_auth' });
    await reopened.revoke(third.claims);
    const kept = Object.keys(JSON.parse(await readFile(file, 'utf8')));
    expect(kept).not.toContain(early.claims.jti);
    expect(kept).toEqual(expect.arrayContaining([late.claims.jti, third.claims.jti]));
    expect((await TokenService.open(dir, 60, { now: clock.now })).verify(late.token)).toBeUndefined();
  });

  it('the list is bounded: when full of unexpired entries a revocation is refused, not another one forgotten', async () => {
    const dir = await dataDir();
    const clock = handClock();
    const tokens = await TokenService.open(dir, 60, { now: clock.now, maxRevoked: 3 });
    const issued = Array.from({ length: 4 }, () => tokens.issue({ account_id: 'a', method: 'api_auth' }));
    for (const t of issued.slice(0, 3)) await tokens.revoke(t.claims);
    await expect(tokens.revoke(issued[3]!.claims)).rejects.toThrow(/revocation list is full/);
    for (const t of issued.slice(0, 3)) expect(tokens.verify(t.token)).toBeUndefined();
    clock.advanceSeconds(61);
    const fresh = tokens.issue({ account_id: 'a', method: 'api_auth' });
    await tokens.revoke(fresh.claims); // the expired entries made room
    expect(tokens.verify(fresh.token)).toBeUndefined();
  });
});
