import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSipService } from '../../src/sip/embedded.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';
import { challengeOf, digestAuthorization, UdpPhone } from './helpers/udp-phone.js';

/**
 * M1 of the hardening drills: with a wrong `uri` a known user got `400 Digest URI Mismatch` and an unknown
 * one `403`, so one nonce enumerated 2,000 names in 0.7 s. Every malformed or mismatched Authorization is
 * sent here for a known and for an unknown user, to the real embedded registrar on loopback; the answers
 * must be byte-identical once the per-message fields (Via branch/rport, tags, Call-ID, nonce, the
 * username itself) are masked. Phone on 127.0.0.100; clock injected for the stale-nonce case.
 */
const REALM = 'enum.test';
const ACC = 'accenumeration00000000000000001';
const KNOWN = '6001';
const UNKNOWN = '6999';
const NONCE_TTL = 60_000;

interface Case {
  name: string;
  status: number;
  /** Authorization for `user` over a fresh `nonce`; `uri` is the right digest URI. */
  authorization: (o: { user: string; nonce: string; uri: string }) => string;
  toUser?: string;
  /** Clock moved by this much between the challenge and the answer. */
  skewMs?: number;
}

const good = (o: { user: string; nonce: string; uri: string }, password = 'wrong-password') =>
  digestAuthorization({ user: o.user, password, realm: REALM, nonce: o.nonce, uri: o.uri, nc: 1 });

const cases: Case[] = [
  { name: 'a wrong digest uri', status: 400, authorization: (o) => good({ ...o, uri: 'sip:wrong.invalid' }) },
  { name: 'qop=auth-int', status: 403, authorization: (o) => good(o).replace('qop=auth', 'qop=auth-int') },
  { name: 'algorithm=SHA-256', status: 403, authorization: (o) => good(o).replace('algorithm=MD5', 'algorithm=SHA-256') },
  { name: 'qop without nc', status: 400, authorization: (o) => good(o).replace(/nc=\w+, /, '') },
  { name: 'a malformed nc', status: 400, authorization: (o) => good(o).replace(/nc=\w+/, 'nc=xyz') },
  { name: 'no response', status: 400, authorization: (o) => good(o).replace(/response="\w+", /, '') },
  { name: 'another realm', status: 401, authorization: (o) => good(o).replace(`realm="${REALM}"`, 'realm="other.test"') },
  { name: 'a forged nonce', status: 401, authorization: (o) => good({ ...o, nonce: `${o.nonce.slice(0, -2)}xx` }) },
  { name: 'a stale nonce', status: 401, authorization: (o) => good(o), skewMs: NONCE_TTL + 1000 },
  { name: 'another scheme', status: 401, authorization: () => 'Basic dXNlcjpwYXNz' },
  { name: 'an oversized value', status: 400, authorization: (o) => `${good(o)}, pad="${'p'.repeat(5000)}"` },
  { name: 'username other than the To user', status: 403, authorization: (o) => good(o), toUser: '7777' },
  { name: 'a wrong password', status: 403, authorization: (o) => good(o) },
];

/** The answer with everything that differs from one message to the next replaced by a placeholder. */
function masked(raw: string, user: string): string {
  return raw
    .split(user)
    .join('<user>')
    .replace(/branch=[^;\r\n]+/g, 'branch=<b>')
    .replace(/rport=\d+/g, 'rport=<p>')
    .replace(/tag=[^;\r\n>]+/g, 'tag=<t>')
    .replace(/^Call-ID: .*$/m, 'Call-ID: <c>')
    .replace(/nonce="[^"]*"/g, 'nonce="<n>"');
}

describe('registrar: known and unknown users answered alike', () => {
  const directory = new MemoryDirectory();
  let skew = 0;
  let sip: EmbeddedSipService;
  let phone: UdpPhone;
  let calls = 0;

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    directory.addDevice(ACC, { id: 'dev6001', sip: { username: KNOWN, password: 'pw6001-right' } });
    sip = new EmbeddedSipService({ config: sipTestConfig(), log: quietLog, directory, now: () => Date.now() + skew, nonceTtlMs: NONCE_TTL });
    await sip.start();
    phone = await UdpPhone.open('127.0.0.100', { address: '127.0.0.1', port: sip.address()!.port });
  });

  afterAll(async () => {
    phone.close();
    await sip.stop();
  });

  const attempt = async (c: Case, user: string) => {
    const callId = `enum-${++calls}`;
    const challenge = await phone.send(phone.registerMessage({ user, realm: REALM, callId, cseq: 1 }));
    expect(challenge.status).toBe(401);
    const nonce = challengeOf(challenge).nonce!;
    skew += c.skewMs ?? 0;
    try {
      const authorization = c.authorization({ user, nonce, uri: phone.uri });
      return await phone.send(phone.registerMessage({ user, toUser: c.toUser, realm: REALM, callId, cseq: 2, authorization }));
    } finally {
      skew -= c.skewMs ?? 0;
    }
  };

  it.each(cases.map((c) => [c.name, c] as const))('answers %s identically', async (_name, c) => {
    const known = await attempt(c, KNOWN);
    const unknown = await attempt(c, UNKNOWN);
    expect(known.status).toBe(c.status);
    expect(masked(unknown.raw, UNKNOWN)).toBe(masked(known.raw, KNOWN));
  });

  it('still registers the known user with the right password (the table above is not all refusals)', async () => {
    const callId = `enum-${++calls}`;
    const challenge = await phone.send(phone.registerMessage({ user: KNOWN, realm: REALM, callId, cseq: 1 }));
    const authorization = good({ user: KNOWN, nonce: challengeOf(challenge).nonce!, uri: phone.uri }, 'pw6001-right');
    expect((await phone.send(phone.registerMessage({ user: KNOWN, realm: REALM, callId, cseq: 2, authorization }))).status).toBe(200);
  });
});
