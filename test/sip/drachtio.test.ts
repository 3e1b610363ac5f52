import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerChallenge, computeResponse } from '../../src/digest/digest.js';
import { createSipService } from '../../src/sip/index.js';
import { parseAuthHeader } from '../../src/sip/message.js';
import type { SipService } from '../../src/sip/service.js';
import { FakeDrachtio, phoneResponse, type SentRequest } from './helpers/fake-drachtio.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';

/**
 * The drachtio-srf backend against a fake drachtio-server speaking the wire protocol on loopback
 * (no real drachtio-server can be installed here; production needs one).
 */
const REALM = 'dr.test';
const ACC = 'accdrachtio';

const register = (cseq: number, authorization?: string) =>
  [
    'REGISTER sip:dr.test SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK-reg-${cseq};rport`,
    'From: <sip:4001@dr.test>;tag=abc',
    'To: <sip:4001@dr.test>',
    'Call-ID: reg-call-1',
    `CSeq: ${cseq} REGISTER`,
    'Contact: <sip:4001@127.0.0.2:5070>',
    'Expires: 300',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('drachtio-srf backend with a fake drachtio-server', () => {
  const directory = new MemoryDirectory();
  const fake = new FakeDrachtio('cymru');
  let sip: SipService;
  let port = 0;

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    directory.addDevice(ACC, { id: 'dev4001', sip: { username: '4001', password: 'pw4001' } });
    port = await fake.listen();
    sip = createSipService({
      config: sipTestConfig({ SIP_BACKEND: 'drachtio', DRACHTIO_HOST: '127.0.0.1', DRACHTIO_PORT: String(port), DRACHTIO_SECRET: 'cymru' }),
      log: quietLog,
      directory,
    });
    await sip.start();
  });

  afterAll(async () => {
    await sip?.stop();
    await fake.close();
  });

  it('authenticates to the server and asks for REGISTER routing', () => {
    expect(fake.authenticated).toBe(true);
    expect(fake.routes).toContain('register');
  });

  it('answers an inbound REGISTER with the shared digest policy: 401, then 200 with the right password', async () => {
    const first = await fake.deliver(register(1), { address: '127.0.0.2', port: 5070 });
    expect(first).toMatch(/^SIP\/2\.0 401 /);
    const challenge = parseAuthHeader(/^WWW-Authenticate:\s*(.*)$/im.exec(first)![1]!)!;
    expect(challenge.params.realm).toBe(REALM);

    const wrong = answerChallenge(challenge.params, 'REGISTER', 'sip:dr.test', '4001', 'nope')!;
    expect(await fake.deliver(register(2, wrong), { address: '127.0.0.2', port: 5070 })).toMatch(/^SIP\/2\.0 403 /);

    // The failed guess burned that nonce (shared policy): the right password over it is re-challenged.
    const burned = answerChallenge(challenge.params, 'REGISTER', 'sip:dr.test', '4001', 'pw4001')!;
    const again = await fake.deliver(register(3, burned), { address: '127.0.0.2', port: 5070 });
    expect(again).toMatch(/^SIP\/2\.0 401 /);
    const fresh = parseAuthHeader(/^WWW-Authenticate:\s*(.*)$/im.exec(again)![1]!)!;
    expect(fresh.params.nonce).not.toBe(challenge.params.nonce);

    const right = answerChallenge(fresh.params, 'REGISTER', 'sip:dr.test', '4001', 'pw4001')!;
    const ok = await fake.deliver(register(4, right), { address: '127.0.0.2', port: 5070 });
    expect(ok).toMatch(/^SIP\/2\.0 200 /);
    expect(ok).toMatch(/Contact:\s*<sip:4001@127\.0\.0\.2:5070>;expires=300/i);
    expect(sip.registrationOf(ACC, 'dev4001')).toMatchObject({ contact: 'sip:4001@127.0.0.2:5070', source: { address: '127.0.0.2', port: 5070 } });
  });

  it('sends NOTIFY through the wire protocol, to the registration source, and reports the final status', async () => {
    fake.answer = (req) => phoneResponse(req.raw, 200, 'OK');
    const result = await sip.notify(ACC, 'dev4001', { event: 'check-sync;reboot=false' });
    expect(result).toMatchObject({ sent: true, status: 200 });
    const sent = fake.requests.at(-1)!;
    expect(sent.raw).toMatch(/^NOTIFY sip:4001@127\.0\.0\.2:5070 SIP\/2\.0/);
    expect(sent.raw).toMatch(/^Event: check-sync;reboot=false$/im);
    expect(sent.raw).toMatch(/^Subscription-State: terminated$/im);
    expect(sent.proxy).toBe('sip:127.0.0.2:5070');
  });

  it('answers a phone that challenges the NOTIFY with the device credentials', async () => {
    const nonce = 'fake-nonce-1';
    fake.answer = (req, attempt) => {
      if (attempt === 1) return phoneResponse(req.raw, 401, 'Unauthorized', [`WWW-Authenticate: Digest realm="${REALM}", nonce="${nonce}", qop="auth", algorithm=MD5`]);
      const header = /^Authorization:\s*(.*)$/im.exec(req.raw)?.[1];
      const p = header ? parseAuthHeader(header)!.params : undefined;
      const valid = p && p.response === computeResponse('NOTIFY', 'pw4001', { username: p.username!, realm: p.realm!, nonce: p.nonce!, uri: p.uri!, qop: p.qop, nc: p.nc, cnonce: p.cnonce });
      return phoneResponse(req.raw, valid ? 200 : 403, valid ? 'OK' : 'Forbidden');
    };
    const result = await sip.notify(ACC, 'dev4001', { event: 'check-sync' });
    expect(result).toMatchObject({ sent: true, status: 200, authenticated: true });
  });

  const PHONE_SDP = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.2', 's=-', 'c=IN IP4 127.0.0.2', 't=0 0', 'm=audio 40000 RTP/AVP 0 8', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
  const methodOf = (raw: string) => /^(\w+) /.exec(raw)![1];
  /** The phone: answers the 3PCC INVITE with 200 + SDP (creating drachtio dialog `dialog`), REFER with `referStatus`, BYE with 200. */
  const scriptPhone = (dialog: string, referStatus: number) => {
    fake.answer = (req) => {
      const method = methodOf(req.raw);
      if (method === 'INVITE') return { raw: phoneResponse(req.raw, 200, 'OK', ['Contact: <sip:4001@127.0.0.2:5070>', 'Content-Type: application/sdp'], PHONE_SDP), dialog };
      if (method === 'REFER') return phoneResponse(req.raw, referStatus, referStatus === 202 ? 'Accepted' : 'Decline');
      if (method === 'BYE') return phoneResponse(req.raw, 200, 'OK');
      return undefined; // ACK
    };
  };
  /** Quick call to 4001 with the phone scripted; returns the result and what the app sent, in order. */
  const callWith = async (dialog: string, referStatus: number) => {
    const before = fake.requests.length;
    scriptPhone(dialog, referStatus);
    const result = await sip.quickCall(ACC, 'dev4001', '5551234', { autoAnswer: true, callerIdName: 'Device QuickCall', callerIdNumber: '5551234', timeoutSeconds: 5 });
    const sent = fake.requests.slice(before);
    return { result, sent, methods: sent.map((r) => methodOf(r.raw)) };
  };

  it('places a quick call through srf: 3PCC INVITE without SDP, ACK with an answer, REFER in the dialog accepted with 202', async () => {
    const { result, sent, methods } = await callWith('dlg-qc-1', 202);
    expect(result).toMatchObject({ outcome: 'answered', status: 200, referStatus: 202 });
    expect(methods).toEqual(['INVITE', 'ACK', 'REFER']);
    const [invite, ack, refer] = sent as [SentRequest, SentRequest, SentRequest];
    expect(invite.raw).toMatch(/^INVITE sip:4001@127\.0\.0\.2:5070 SIP\/2\.0/);
    expect(invite.raw).toMatch(/^To: <sip:4001@dr\.test>/im);
    expect(invite.raw).toMatch(/^Subject: QuickCall$/im);
    expect(invite.raw.split('\r\n\r\n')[1]).toBe(''); // no offer: the phone makes it
    expect(invite.proxy).toBe('sip:127.0.0.2:5070');
    expect(ack.dialog).toBe('dlg-qc-1');
    expect(ack.raw).toMatch(/^m=audio 9 RTP\/AVP 0$/m);
    expect(ack.raw).toMatch(/^a=inactive$/m);
    expect(refer.dialog).toBe('dlg-qc-1');
    expect(refer.raw).toMatch(/^Refer-To: <sip:5551234@dr\.test>$/im);
    expect(refer.raw).toMatch(/^Referred-By: <sip:provisioning@dr\.test>$/im);
  });

  it('hangs up (BYE in the dialog) and reports failed when the phone declines the REFER', async () => {
    const { result, sent, methods } = await callWith('dlg-qc-2', 603);
    expect(result).toMatchObject({ outcome: 'failed', status: 200, referStatus: 603 });
    expect(methods).toEqual(['INVITE', 'ACK', 'REFER', 'BYE']);
    expect(sent[3]!.dialog).toBe('dlg-qc-2');
  });

  it('does not send to an unregistered device', async () => {
    directory.addDevice(ACC, { id: 'dev4002', sip: { username: '4002', password: 'x' } });
    expect(await sip.notify(ACC, 'dev4002', { event: 'check-sync' })).toEqual({ sent: false, reason: 'not registered' });
  });

  it('a wrong secret is a clear start error', async () => {
    const other = createSipService({
      config: sipTestConfig({ SIP_BACKEND: 'drachtio', DRACHTIO_HOST: '127.0.0.1', DRACHTIO_PORT: String(port), DRACHTIO_SECRET: 'wrong' }),
      log: quietLog,
      directory,
    });
    await expect(other.start()).rejects.toThrow(/drachtio-server at 127\.0\.0\.1/);
    await other.stop();
  });
});
