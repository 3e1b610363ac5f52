import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSipService } from '../../src/sip/embedded.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';
import { sipp } from './helpers/sipp.js';
import { challengeOf, digestAuthorization, UdpPhone, type Reply } from './helpers/udp-phone.js';

/**
 * REGISTER policy edge cases against the real embedded server on loopback: SIPp phones for what SIPp can
 * say (Expires too short, too long), a raw UDP phone for crafted Authorization headers. The server's clock
 * is injected so a nonce can expire without sleeping. SIPp ports 24000–24099, phones on 127.0.0.31+.
 */
const REALM = 'reg.test';
const ACC = 'accregistrar0000000000000000001';
const NONCE_TTL = 60_000;

describe('embedded registrar: expiry limits and digest edge cases', () => {
  const directory = new MemoryDirectory();
  let skew = 0;
  let sip: EmbeddedSipService;
  let phone: UdpPhone;
  let remote = '';
  let calls = 0;

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    for (const user of ['3201', '3202', '3203', '3204', '3205', '3206']) directory.addDevice(ACC, { id: `dev${user}`, sip: { username: user, password: `pw${user}` } });
    sip = new EmbeddedSipService({
      config: sipTestConfig({ SIP_MIN_EXPIRES: '60', SIP_MAX_EXPIRES: '600' }),
      log: quietLog,
      directory,
      now: () => Date.now() + skew,
      nonceTtlMs: NONCE_TTL,
    });
    await sip.start();
    const port = sip.address()!.port;
    remote = `127.0.0.1:${port}`;
    phone = await UdpPhone.open('127.0.0.31', { address: '127.0.0.1', port });
  });

  afterAll(async () => {
    phone.close();
    await sip.stop();
  });

  /** REGISTER without credentials; returns the 401 and a Call-ID to continue with. */
  const challenge = async (user: string, realm = REALM) => {
    const callId = `reg-${++calls}`;
    const reply = await phone.send(phone.registerMessage({ user, realm, callId, cseq: 1 }));
    expect(reply.status).toBe(401);
    return { callId, reply, nonce: challengeOf(reply).nonce! };
  };
  const answer = (o: { user: string; password?: string; nonce: string; callId: string; cseq: number; nc?: number; toUser?: string; realm?: string }): Promise<Reply> =>
    phone.send(
      phone.registerMessage({
        user: o.user,
        toUser: o.toUser,
        realm: REALM,
        callId: o.callId,
        cseq: o.cseq,
        authorization: digestAuthorization({ user: o.user, password: o.password ?? `pw${o.user}`, realm: o.realm ?? REALM, nonce: o.nonce, uri: phone.uri, nc: o.nc ?? 1 }),
      }),
    );

  /** A SIPp phone (user 3201, 127.0.0.32) registering with digest and asking for `expires`. */
  const sippRegister = (scenario: string, port: number, expires: number) =>
    sipp({ scenario, remote, ip: '127.0.0.32', port, service: '3201', auth: { user: '3201', pass: 'pw3201' }, keys: { realm: REALM, contact_port: 24070, expires } }).done;

  it('answers Expires below the minimum with 423 Interval Too Brief and Min-Expires (SIPp phone)', async () => {
    const run = await sippRegister('uac-register-too-brief.xml', 24001, 30);
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toMatch(/min-expires 60/);
    expect(sip.registrationOf(ACC, 'dev3201')).toBeUndefined();
  });

  it('caps Expires at the maximum and says so in the 200 Contact (SIPp phone)', async () => {
    const run = await sippRegister('uac-register-digest.xml', 24002, 7200);
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toMatch(/granted 600/);
    const reg = sip.registrationOf(ACC, 'dev3201')!;
    expect(Math.round((reg.expiresAt - (Date.now() + skew)) / 1000)).toBeLessThanOrEqual(600);
  });

  it('answers a retransmitted REGISTER with the same response, not a new challenge', async () => {
    const message = phone.registerMessage({ user: '3202', realm: REALM, callId: `reg-${++calls}`, cseq: 1 });
    const first = await phone.send(message);
    const again = await phone.send(message);
    expect(first.status).toBe(401);
    expect(again.raw).toBe(first.raw);
  });

  it('refuses a replayed Authorization (same nonce, same nc) with 403, accepts the next nc', async () => {
    const { callId, nonce } = await challenge('3202');
    expect((await answer({ user: '3202', nonce, callId, cseq: 2 })).status).toBe(200);
    const replay = await answer({ user: '3202', nonce, callId, cseq: 3 });
    expect(replay.status).toBe(403);
    expect(replay.raw).toMatch(/^SIP\/2\.0 403 Replayed Credentials/);
    expect((await answer({ user: '3202', nonce, callId, cseq: 4, nc: 2 })).status).toBe(200);
  });

  it('answers an expired nonce with 401 stale=true; the phone re-authenticates and gets 200', async () => {
    const { callId, nonce } = await challenge('3203');
    skew += NONCE_TTL + 1000;
    const stale = await answer({ user: '3203', nonce, callId, cseq: 2 });
    expect(stale.status).toBe(401);
    expect(stale.header('www-authenticate')).toMatch(/stale=true/);
    const fresh = challengeOf(stale).nonce!;
    expect(fresh).not.toBe(nonce);
    expect(sip.registrationOf(ACC, 'dev3203')).toBeUndefined();
    expect((await answer({ user: '3203', nonce: fresh, callId, cseq: 3 })).status).toBe(200);
    expect(sip.registrationOf(ACC, 'dev3203')).toBeDefined();
  });

  it('re-challenges a nonce we did not issue (HMAC mismatch), even with a correct digest over it', async () => {
    const { callId, nonce } = await challenge('3204');
    const [ts, rand, mac] = nonce.split('.') as [string, string, string];
    const forged = `${ts}.${rand}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    const reply = await answer({ user: '3204', nonce: forged, callId, cseq: 2 });
    expect(reply.status).toBe(401);
    expect(reply.header('www-authenticate')).not.toMatch(/stale/);
    const made = await answer({ user: '3204', nonce: 'bm90LW91cnM', callId, cseq: 3 });
    expect(made.status).toBe(401);
    expect(sip.registrationOf(ACC, 'dev3204')).toBeUndefined();
  });

  it('refuses credentials of one user for another user’s AOR (To user ≠ digest username)', async () => {
    const { callId, nonce } = await challenge('3206');
    const reply = await answer({ user: '3205', toUser: '3206', nonce, callId, cseq: 2 });
    expect(reply.status).toBe(403);
    expect(sip.registrationOf(ACC, 'dev3205')).toBeUndefined();
    expect(sip.registrationOf(ACC, 'dev3206')).toBeUndefined();
  });

  it('refuses an unknown user with 403 after the challenge (no 401 loop)', async () => {
    const { callId, nonce } = await challenge('9999');
    const reply = await answer({ user: '9999', password: 'whatever', nonce, callId, cseq: 2 });
    expect(reply.status).toBe(403);
  });

  it('re-challenges an Authorization for another realm, naming ours', async () => {
    const { callId, nonce } = await challenge('3205');
    const reply = await answer({ user: '3205', realm: 'elsewhere.test', nonce, callId, cseq: 2 });
    expect(reply.status).toBe(401);
    expect(challengeOf(reply).realm).toBe(REALM);
    expect(sip.registrationOf(ACC, 'dev3205')).toBeUndefined();
  });
});
