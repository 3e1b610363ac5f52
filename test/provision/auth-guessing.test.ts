import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAuthParams } from '../../src/digest/auth-header.js';
import { ACCOUNT, REALM, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { clientsFrom } from './support/from-address.js';

/** Drill M2: http_auth passwords guessed without limit. Wrong credentials are strikes; a nonce serves one guess. */

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const FILE = '805ec0bbbb01.cfg';
const URI = `/provision/${FILE}`;
const PASSWORD = 'ProvPass-Zq9';

let h: Harness | undefined;
let clients: ReturnType<typeof clientsFrom> | undefined;
afterEach(async () => {
  clients?.close();
  clients = undefined;
  await h?.close();
  h = undefined;
});

async function start(env: Record<string, string> = {}, type: 'digest' | 'basic' = 'digest') {
  h = await startHarness({ env });
  h.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type, username: 'prov', password: PASSWORD } } });
  seedFullDevice(h, { id: 'd', mac: '805ec0bbbb01' });
  clients = clientsFrom(h.base);
  return clients;
}

/** The drill's Authorization header for `guess` on `nonce`. */
function answer(nonce: string, guess: string, nc: number, username = 'prov'): string {
  const ncHex = nc.toString(16).padStart(8, '0');
  const ha1 = md5(`${username}:${REALM}:${guess}`);
  const response = md5(`${ha1}:${nonce}:${ncHex}:c0ffee:auth:${md5(`GET:${URI}`)}`);
  return `Digest username="${username}", realm="${REALM}", nonce="${nonce}", uri="${URI}", response=${response}, qop=auth, nc=${ncHex}, cnonce="c0ffee"`;
}

const nonceOf = (wwwAuthenticate: string | string[] | undefined) => parseAuthParams(String(wwwAuthenticate).replace(/^Digest\s+/, '')).nonce!;

describe('digest guessing', () => {
  it('drill M2: one nonce, many guesses from one address: banned at the limit, the right password then refused', async () => {
    const c = await start(); // default: 20 strikes per address
    const first = await c.get('127.0.0.89', FILE);
    expect(first.status).toBe(401);
    const nonce = nonceOf(first.headers['www-authenticate']);
    const statuses: number[] = [];
    for (let i = 1; i <= 40; i++) statuses.push((await c.get('127.0.0.89', FILE, { Authorization: answer(nonce, `guess-${i}`, i) })).status);
    expect(statuses.slice(0, 20)).toEqual(new Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(new Array(20).fill(403));
    const fresh = await c.get('127.0.0.89', FILE);
    expect(fresh.status).toBe(403);
    expect(h!.logs.some((l) => l.includes('address banned for probing') && l.includes('failed authentication'))).toBe(true);
    // Another address of another network is unaffected and the password still works there.
    const other = await c.get('127.0.1.1', FILE);
    const ok = await c.get('127.0.1.1', FILE, { Authorization: answer(nonceOf(other.headers['www-authenticate']), PASSWORD, 1) });
    expect(ok.status).toBe(200);
  });

  it('a nonce answered wrongly is burned: the right answer on it is refused and a fresh nonce works', async () => {
    const c = await start({ PROVISION_PROBE_LIMIT: '100', PROVISION_PREFIX_PROBE_LIMIT: '100' });
    const nonce = nonceOf((await c.get('127.0.0.5', FILE)).headers['www-authenticate']);
    expect((await c.get('127.0.0.5', FILE, { Authorization: answer(nonce, 'wrong', 1) })).status).toBe(401);
    const burned = await c.get('127.0.0.5', FILE, { Authorization: answer(nonce, PASSWORD, 2) });
    expect(burned.status).toBe(401);
    expect(burned.headers['www-authenticate']).not.toContain('stale=true');
    const next = nonceOf(burned.headers['www-authenticate']);
    expect(next).not.toBe(nonce);
    expect((await c.get('127.0.0.5', FILE, { Authorization: answer(next, PASSWORD, 1) })).status).toBe(200);
    // A wrong user name burns it too.
    const n3 = nonceOf((await c.get('127.0.0.5', FILE)).headers['www-authenticate']);
    expect((await c.get('127.0.0.5', FILE, { Authorization: answer(n3, PASSWORD, 1, 'someone') })).status).toBe(401);
    expect((await c.get('127.0.0.5', FILE, { Authorization: answer(n3, PASSWORD, 2) })).status).toBe(401);
  });

  it('guesses spread over one /24 ban the network', async () => {
    const c = await start({ PROVISION_PREFIX_PROBE_LIMIT: '30' });
    const statuses: number[] = [];
    for (let host = 10; host < 20; host++) {
      for (let k = 0; k < 5; k++) {
        const challenge = await c.get(`127.0.0.${host}`, FILE);
        if (challenge.status !== 401) {
          statuses.push(challenge.status);
          continue;
        }
        statuses.push((await c.get(`127.0.0.${host}`, FILE, { Authorization: answer(nonceOf(challenge.headers['www-authenticate']), `g${host}-${k}`, 1) })).status);
      }
    }
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30).every((s) => s === 403)).toBe(true);
    const late = await c.get('127.0.0.200', FILE);
    expect(late.status).toBe(403);
  });

  it('what phones do is no strike: no credentials, an expired nonce, a replayed answer', async () => {
    // A long window, so that moving the clock past a nonce's life does not also forget strikes.
    const c = await start({ PROVISION_PROBE_LIMIT: '2', PROVISION_PREFIX_PROBE_LIMIT: '2', PROVISION_PROBE_WINDOW: '7200' });
    for (let i = 0; i < 10; i++) expect((await c.get('127.0.0.6', FILE)).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      const nonce = nonceOf((await c.get('127.0.0.6', FILE)).headers['www-authenticate']);
      h!.clock.now += 6 * 60_000;
      const stale = await c.get('127.0.0.6', FILE, { Authorization: answer(nonce, PASSWORD, 1) });
      expect(stale.status).toBe(401);
      expect(stale.headers['www-authenticate']).toContain('stale=true');
    }
    const nonce = nonceOf((await c.get('127.0.0.6', FILE)).headers['www-authenticate']);
    const header = answer(nonce, PASSWORD, 1);
    expect((await c.get('127.0.0.6', FILE, { Authorization: header })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await c.get('127.0.0.6', FILE, { Authorization: header })).status).toBe(401);
    expect((await c.get('127.0.0.6', FILE, { Authorization: answer(nonce, PASSWORD, 2) })).status).toBe(200);
  });

  it('malformed and oversized credentials are strikes', async () => {
    const c = await start({ PROVISION_PROBE_LIMIT: '3' });
    for (const bad of ['Digest garbage', `Digest ${'a'.repeat(7_900)}`, 'Basic cHJvdjpQcm92UGFzcy1acTk=']) {
      expect((await c.get('127.0.0.7', FILE, { Authorization: bad })).status, bad.slice(0, 20)).toBe(401);
    }
    expect((await c.get('127.0.0.7', FILE, { Authorization: 'Digest x=1' })).status).toBe(403);
  });
});

describe('basic guessing', () => {
  it('wrong passwords count toward the ban', async () => {
    const c = await start({ PROVISION_PROBE_LIMIT: '3' }, 'basic');
    const basic = (pw: string) => ({ Authorization: `Basic ${Buffer.from(`prov:${pw}`).toString('base64')}` });
    for (let i = 0; i < 3; i++) expect((await c.get('127.0.0.8', FILE, basic(`nope${i}`))).status).toBe(401);
    expect((await c.get('127.0.0.8', FILE, basic('nope9'))).status).toBe(403);
    expect((await c.get('127.0.0.8', FILE, basic(PASSWORD))).status).toBe(403);
    expect((await c.get('127.0.0.9', FILE, basic(PASSWORD))).status).toBe(200);
  });
});
