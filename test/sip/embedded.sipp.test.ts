import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSipService } from '../../src/sip/embedded.js';
import type { QuickCallOptions } from '../../src/sip/service.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';
import { sipp, waitFor } from './helpers/sipp.js';

/**
 * The embedded backend against real SIPp phones on loopback. Server on 127.0.0.1:<ephemeral>, phones on
 * 127.0.0.2+; this file uses SIPp ports 21000–21099 so other files can run in parallel.
 */
const REALM = 'prov.test';
const ACC = 'acc00000000000000000000000000001';

describe('embedded SIP backend with SIPp phones', () => {
  const directory = new MemoryDirectory();
  let sip: EmbeddedSipService;
  let remote = '';

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    directory.addDevice(ACC, { id: 'dev1001', sip: { username: '1001', password: 's3cret', method: 'password' } });
    directory.addDevice(ACC, { id: 'dev1002', sip: { username: '1002', method: 'ip', ip: '127.0.0.3' } });
    directory.addDevice(ACC, { id: 'dev1003', sip: { username: '1003', password: 'pw1003' } });
    directory.addDevice(ACC, { id: 'dev1004', sip: { username: '1004', password: 'pw1004' } });
    directory.addDevice(ACC, { id: 'dev1005', sip: { username: '1005', method: 'ip', ip: '127.0.0.6' }, enabled: false });
    directory.addDevice(ACC, { id: 'dev1006', sip: { username: '1006', password: 'pw1006' } });
    directory.addDevice(ACC, { id: 'dev1007', sip: { username: '1007', password: 'pw1007' } });
    directory.addDevice(ACC, { id: 'dev1008', sip: { username: '1008', password: 'pw1008' } });
    sip = new EmbeddedSipService({ config: sipTestConfig(), log: quietLog, directory });
    await sip.start();
    remote = `127.0.0.1:${sip.address()!.port}`;
  });

  afterAll(async () => {
    await sip.stop();
  });

  const register = (ip: string, user: string, pass: string, port: number, opts: { expires?: number; scenario?: string; contactPort?: number } = {}) =>
    sipp({
      scenario: opts.scenario ?? 'uac-register-digest.xml',
      remote,
      ip,
      port,
      service: user,
      auth: { user, pass },
      keys: { realm: REALM, contact_port: opts.contactPort ?? 21070, expires: opts.expires ?? 300 },
    }).done;

  /** Register phone `user` (password pw<user>), start its SIPp UAS and quick-call it; both outcomes. */
  const quickCallTo = async (p: { ip: string; user: string; port: number; contactPort: number; scenario: string }, number: string, options: QuickCallOptions) => {
    expect((await register(p.ip, p.user, `pw${p.user}`, p.port, { contactPort: p.contactPort })).code).toBe(0);
    const phone = sipp({ scenario: p.scenario, ip: p.ip, port: p.contactPort, service: p.user });
    const result = await sip.quickCall(ACC, `dev${p.user}`, number, options);
    return { result, run: await phone.done };
  };

  it('refuses a wrong password with 403 after the challenge', async () => {
    const run = await register('127.0.0.2', '1001', 'wrong', 21001, { scenario: 'uac-register-badpass.xml' });
    expect(run.code, run.stderr).toBe(0);
    expect(sip.registrationOf(ACC, 'dev1001')).toBeUndefined();
  });

  it('registers a digest phone and lists it', async () => {
    const run = await register('127.0.0.2', '1001', 's3cret', 21002, { expires: 120 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toMatch(/granted 120/);
    const reg = sip.registrationOf(ACC, 'dev1001');
    expect(reg).toMatchObject({ deviceId: 'dev1001', username: '1001', realm: REALM, contact: 'sip:1001@127.0.0.2:21070', source: { address: '127.0.0.2', port: 21002 } });
    expect(sip.registrations(ACC).map((r) => r.deviceId)).toContain('dev1001');
  });

  it('registers an IP-authenticated phone without a challenge', async () => {
    const run = await sipp({ scenario: 'uac-register-ip.xml', remote, ip: '127.0.0.3', port: 21003, service: '1002', keys: { realm: REALM, contact_port: 21070, expires: 300 } }).done;
    expect(run.code, run.stderr).toBe(0);
    expect(sip.registrationOf(ACC, 'dev1002')?.source.address).toBe('127.0.0.3');
  });

  it('refuses a disabled device', async () => {
    const run = await sipp({ scenario: 'uac-register-refused.xml', remote, ip: '127.0.0.6', port: 21004, service: '1005', keys: { realm: REALM, contact_port: 21070, expires: 300 } }).done;
    expect(run.code, run.stderr).toBe(0);
    expect(sip.registrationOf(ACC, 'dev1005')).toBeUndefined();
  });

  it('sends NOTIFY with the requested Event to a registered phone, from the registrar address', async () => {
    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.2', port: 21070, service: '1001' });
    const result = await sip.notify(ACC, 'dev1001', { event: 'check-sync;reboot=false' });
    const run = await phone.done;
    expect(result).toMatchObject({ sent: true, status: 200 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('EVENT=check-sync;reboot=false SUBSTATE=terminated');
  });

  it('answers a NOTIFY challenge with the device credentials (checked by SIPp verifyauth)', async () => {
    expect((await register('127.0.0.5', '1004', 'pw1004', 21005, { contactPort: 21071 })).code).toBe(0);
    const phone = sipp({ scenario: 'uas-notify-auth.xml', ip: '127.0.0.5', port: 21071, service: '1004', keys: { phone_user: '1004', phone_pass: 'pw1004', realm: REALM } });
    const result = await sip.notify(ACC, 'dev1004', { event: 'check-sync' });
    const run = await phone.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('AUTHVALID=true');
    expect(result).toMatchObject({ sent: true, status: 200, authenticated: true });
  });

  it('reports a phone that rejects our credentials', async () => {
    const phone = sipp({ scenario: 'uas-notify-auth.xml', ip: '127.0.0.5', port: 21071, service: '1004', keys: { phone_user: '1004', phone_pass: 'other', realm: REALM } });
    const result = await sip.notify(ACC, 'dev1004', { event: 'check-sync' });
    await phone.done;
    expect(result).toMatchObject({ sent: true, status: 403 });
    expect(result.authenticated).toBeFalsy();
  });

  it('does not send to an unregistered device', async () => {
    expect(await sip.notify(ACC, 'dev1008', { event: 'check-sync' })).toMatchObject({ sent: false });
    expect(await sip.quickCall(ACC, 'dev1008', '100', { autoAnswer: true, callerIdName: 'x', callerIdNumber: '1', timeoutSeconds: 3 })).toMatchObject({ outcome: 'not_registered' });
  });

  it('places a quick call: INVITE without SDP, ACK with answer, REFER to the number', async () => {
    const phone = { ip: '127.0.0.4', user: '1003', port: 21006, contactPort: 21072, scenario: 'uas-quickcall.xml' };
    const { result, run } = await quickCallTo(phone, '5551234', { autoAnswer: true, callerIdName: 'Device QuickCall', callerIdNumber: '5551234', timeoutSeconds: 10 });
    expect(run.code, run.stderr).toBe(0);
    expect(result).toMatchObject({ outcome: 'answered', status: 200, referStatus: 202 });
    expect(run.logs).toContain(`REFER-TO=<sip:5551234@${REALM}>`);
    expect(run.logs).toMatch(/callinfo=answer-after=0/);
    expect(run.logs).toMatch(/ACK sdp=m=audio/);
  });

  it('cancels a quick call the phone never answers', async () => {
    const neverAnswers = { ip: '127.0.0.8', user: '1007', port: 21007, contactPort: 21073, scenario: 'uas-ring-forever.xml' };
    const { result, run } = await quickCallTo(neverAnswers, '200', { autoAnswer: false, callerIdName: 'QC', callerIdNumber: '200', timeoutSeconds: 1 });
    expect(run.code, run.stderr).toBe(0);
    expect(result).toMatchObject({ outcome: 'timeout', status: 487 });
  });

  it('expires a short registration and honours Expires: 0', async () => {
    expect((await register('127.0.0.7', '1006', 'pw1006', 21008, { expires: 1 })).code).toBe(0);
    expect(sip.registrationOf(ACC, 'dev1006')).toBeDefined();
    await waitFor(() => sip.registrationOf(ACC, 'dev1006') === undefined, 5000, 100);
    expect((await register('127.0.0.7', '1006', 'pw1006', 21009, { expires: 300 })).code).toBe(0);
    expect(sip.registrationOf(ACC, 'dev1006')).toBeDefined();
    expect((await register('127.0.0.7', '1006', 'pw1006', 21010, { expires: 0 })).code).toBe(0);
    expect(sip.registrationOf(ACC, 'dev1006')).toBeUndefined();
  });

  it('drops the binding of a device disabled or deleted in the store', async () => {
    expect(sip.registrationOf(ACC, 'dev1002')).toBeDefined();
    // A store replaces a changed document (stored ones are frozen); so does this double.
    const stored = directory.devices.get('dev1002')!;
    directory.devices.set('dev1002', { ...stored, enabled: false });
    expect(sip.registrationOf(ACC, 'dev1002')).toBeUndefined();
    directory.devices.set('dev1002', stored);
  });

  it('survives thousands of malformed and random datagrams and still registers', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.9', () => r()));
    const port = sip.address()!.port;
    const junk: Buffer[] = [
      Buffer.from('REGISTER sip:x SIP/2.0\r\n\r\n'),
      Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nCSeq: 1 NOTIFY\r\n\r\n'),
      Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: garbage\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\n\r\n'),
      Buffer.from('REGISTER sip:prov.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:1;branch=z9hG4bK1\r\nFrom: <sip:1@prov.test>\r\nTo: <sip:1@prov.test>\r\nCall-ID: 1\r\nCSeq: 1 REGISTER\r\nContact: <sip:%%%@[zz]>\r\nAuthorization: Digest username="1001",realm="prov.test",nonce="a.b.c",uri="sip:prov.test",response="00"\r\nContent-Length: 99999\r\n\r\n'),
      Buffer.from('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:1\r\nFrom: x\r\nTo: y\r\nCall-ID: z\r\nCSeq: 9 OPTIONS\r\nContent-Length: -1\r\n\r\n'),
      Buffer.from('\r\n\r\n'),
      Buffer.alloc(0),
    ];
    // Batches of 100 junk datagrams, each followed by an OPTIONS ping whose 200 we wait for: the server
    // keeps answering throughout, and loopback buffers never overflow (so every datagram is really parsed).
    const answered = new Set<string>();
    sock.on('message', (m) => {
      const id = /Call-ID: (ping-\d+)/.exec(m.toString())?.[1];
      if (id) answered.add(id);
    });
    for (let batch = 0; batch < 30; batch++) {
      for (let j = 0; j < 100; j++) {
        const i = batch * 100 + j;
        const pick = i % 3 === 0 ? randomBytes(1 + (i % 1400)) : junk[i % junk.length]!;
        sock.send(pick, port, '127.0.0.1');
      }
      const id = `ping-${batch}`;
      const ping = `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:${sock.address().port};branch=z9hG4bK${id}\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:t@x>\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      await waitFor(() => {
        if (!answered.has(id)) sock.send(Buffer.from(ping), port, '127.0.0.1');
        return answered.has(id);
      }, 5000, 50);
    }
    sock.close();
    expect(sip.stats().dropped).toBeGreaterThan(1000);
    const run = await register('127.0.0.2', '1001', 's3cret', 21011, { expires: 120 });
    expect(run.code, run.stderr).toBe(0);
  });

  it('reports a busy port as a clear start error', async () => {
    const other = new EmbeddedSipService({ config: sipTestConfig({ SIP_PORT: String(sip.address()!.port) }), log: quietLog, directory });
    await expect(other.start()).rejects.toThrow(/already in use/);
  });
});
