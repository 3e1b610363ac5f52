import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { EmbeddedSipService } from '../../src/sip/embedded.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { sipTestConfig } from './helpers/config.js';
import { challengeOf, digestAuthorization, UdpPhone, type Reply } from './helpers/udp-phone.js';

/**
 * H3 of the hardening drills: 6,198 guesses/s on one nonce, no throttle, one log line per guess. Against
 * the real embedded registrar on loopback with crafted REGISTERs from many loopback addresses
 * (127.0.0.60–99). Limits: 5 failures per 60 s ban a source for 600 s; a username's burst is 5 failures,
 * then 2 checks per minute from untrusted sources. The clock is injected: bans and buckets run out by
 * moving it, never by sleeping.
 */
const REALM = 'brute.test';
const ACC = 'accbruteforce000000000000000001';
const LIMIT = 5;
const WINDOW_MS = 60_000;
const BAN_MS = 600_000;
const RATE_PER_MINUTE = 2;

describe('registrar: brute-force limits', () => {
  const directory = new MemoryDirectory();
  const lines: Array<Record<string, unknown>> = [];
  let skew = 0;
  let sip: EmbeddedSipService;
  let port = 0;
  let calls = 0;
  const phones = new Map<string, UdpPhone>();

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    for (const user of ['6101', '6102', '6103', '6104', '6105', '6106', '6107', '6110', '6130']) directory.addDevice(ACC, { id: `dev${user}`, sip: { username: user, password: `pw${user}` } });
    sip = new EmbeddedSipService({
      config: sipTestConfig({
        SIP_AUTH_FAIL_LIMIT: String(LIMIT),
        SIP_AUTH_FAIL_WINDOW: String(WINDOW_MS / 1000),
        SIP_AUTH_BAN_SECONDS: String(BAN_MS / 1000),
        SIP_USER_GUESS_RATE: String(RATE_PER_MINUTE),
      }),
      log: createLogger('info', (line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
      directory,
      now: () => Date.now() + skew,
    });
    await sip.start();
    port = sip.address()!.port;
  });

  afterAll(async () => {
    for (const phone of phones.values()) phone.close();
    await sip.stop();
  });

  const phoneAt = async (ip: string) => {
    let phone = phones.get(ip);
    if (!phone) phones.set(ip, (phone = await UdpPhone.open(ip, { address: '127.0.0.1', port })));
    return phone;
  };

  /** A fresh challenge, then one answer to it; `nonce` and `callId` to go on with the same challenge. */
  const guess = async (ip: string, user: string, password: string): Promise<Reply & { nonce: string; callId: string }> => {
    const phone = await phoneAt(ip);
    const callId = `bf-${++calls}`;
    const challenge = await phone.send(phone.registerMessage({ user, realm: REALM, callId, cseq: 1 }));
    expect(challenge.status).toBe(401);
    const nonce = challengeOf(challenge).nonce!;
    const authorization = digestAuthorization({ user, password, realm: REALM, nonce, uri: phone.uri, nc: 1 });
    const reply = await phone.send(phone.registerMessage({ user, realm: REALM, callId, cseq: 2, authorization }));
    return Object.assign(reply, { nonce, callId });
  };

  it('burns the nonce of a failed digest: the right password over it is re-challenged, not accepted', async () => {
    const wrong = await guess('127.0.0.60', '6101', 'guess-1');
    expect(wrong.status).toBe(403);
    const phone = await phoneAt('127.0.0.60');
    const authorization = digestAuthorization({ user: '6101', password: 'pw6101', realm: REALM, nonce: wrong.nonce, uri: phone.uri, nc: 2 });
    const again = await phone.send(phone.registerMessage({ user: '6101', realm: REALM, callId: wrong.callId, cseq: 3, authorization }));
    expect(again.status).toBe(401);
    expect(challengeOf(again).nonce).not.toBe(wrong.nonce);
    expect(sip.registrationOf(ACC, 'dev6101')).toBeUndefined();
    expect((await guess('127.0.0.60', '6101', 'pw6101')).status).toBe(200);
  });

  it(`bans a source after ${LIMIT} failures: even the right password is refused unchecked, other sources are not`, async () => {
    for (const user of ['6102', '6103', '6104', '6105', '6106']) expect((await guess('127.0.0.61', user, 'guess')).status).toBe(403);
    expect(lines.some((l) => l.msg === 'sip source banned: too many failed digests' && l.source === '127.0.0.61')).toBe(true);

    const refused = await guess('127.0.0.61', '6107', 'pw6107');
    expect(refused.status).toBe(403);
    expect(refused.raw).toMatch(/^SIP\/2\.0 403 Forbidden\r\n/);
    expect(sip.registrationOf(ACC, 'dev6107')).toBeUndefined();
    expect((await guess('127.0.0.62', '6107', 'pw6107')).status).toBe(200);

    skew += BAN_MS - 1000;
    expect((await guess('127.0.0.61', '6107', 'pw6107')).status).toBe(403);
    skew += 2000;
    expect((await guess('127.0.0.61', '6107', 'pw6107')).status).toBe(200);
  });

  it('slows down guesses at one user from many sources, never its own phone', async () => {
    expect((await guess('127.0.0.70', '6110', 'pw6110')).status).toBe(200);
    for (let i = 71; i < 71 + LIMIT; i++) expect((await guess(`127.0.0.${i}`, '6110', `guess-${i}`)).status).toBe(403);

    // The burst is spent: a new source is refused without a check, even with the right password...
    const throttled = await guess('127.0.0.76', '6110', 'pw6110');
    expect(throttled.status).toBe(403);
    expect(throttled.raw).toMatch(/^SIP\/2\.0 403 Forbidden\r\n/);
    expect(sip.registrationOf(ACC, 'dev6110')?.source.address).toBe('127.0.0.70');
    // ...while the phone that registered it last goes on registering,
    expect((await guess('127.0.0.70', '6110', 'pw6110')).status).toBe(200);
    // and one check per 60/RATE seconds is let through for everyone else.
    skew += 60_000 / RATE_PER_MINUTE - 1000;
    expect((await guess('127.0.0.77', '6110', 'pw6110')).status).toBe(403);
    skew += 60_000 / RATE_PER_MINUTE;
    expect((await guess('127.0.0.77', '6110', 'pw6110')).status).toBe(200);
    expect(sip.registrationOf(ACC, 'dev6110')?.source.address).toBe('127.0.0.77');
  });

  it('counts an unknown username like a known one (its burst is spent before the device even exists)', async () => {
    for (let i = 80; i < 80 + LIMIT; i++) expect((await guess(`127.0.0.${i}`, '6120', `guess-${i}`)).status).toBe(403);
    directory.addDevice(ACC, { id: 'dev6120', sip: { username: '6120', password: 'pw6120' } });
    expect((await guess('127.0.0.85', '6120', 'pw6120')).status).toBe(403);
    skew += 60_000 / RATE_PER_MINUTE;
    expect((await guess('127.0.0.85', '6120', 'pw6120')).status).toBe(200);
  });

  it('logs at most one refusal per source per window, then a count of the rest', async () => {
    skew += WINDOW_MS; // a new log window: what earlier tests held back is summed up by the next refusal
    const from90 = () => lines.filter((l) => String(l.msg).startsWith('sip register refused') && l.source === '127.0.0.90');
    const attempts = 3 * LIMIT;
    for (let i = 0; i < attempts; i++) expect((await guess('127.0.0.90', '6130', `guess-${i}`)).status).toBe(403);
    expect(from90()).toHaveLength(1);
    const summaries = () => lines.filter((l) => l.msg === 'sip register refusals not logged');
    const before = summaries().length;

    skew += WINDOW_MS;
    expect((await guess('127.0.0.90', '6130', 'guess-last')).status).toBe(403);
    expect(summaries()).toHaveLength(before + 1);
    expect(summaries().at(-1)).toMatchObject({ level: 'warn', count: attempts - 1 });
    expect(from90()).toHaveLength(2);
    expect(JSON.stringify(lines)).not.toMatch(/pw61\d\d/);
  });
});
