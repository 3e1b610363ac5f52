import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvisioning } from '../../src/provision/index.js';
import { createSipPart } from '../../src/sip/wiring.js';
import type { EmbeddedSipService } from '../../src/sip/embedded.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sipp } from './helpers/sipp.js';

/**
 * The SIP device actions through the real app (store, auth, provisioning with the Yealink profile) and
 * real SIPp phones. SIPp ports 22000–22099 here; phones on 127.0.0.21+.
 */
describe('SIP device actions through the API', () => {
  let t: TestServer;
  let A = '';
  let realm = '';
  let sipRemote = '';
  const ids: Record<string, string> = {};
  const auth = () => ({ 'X-Auth-Token': t.master.token });

  beforeAll(async () => {
    t = await startTestServer({
      env: { SIP_BACKEND: 'embedded', SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0', SIP_MIN_EXPIRES: '1', RESYNC_RATE: '100' },
      parts: {
        provisioning: ({ config, log, store, events }) => createProvisioning({ config, log, directory: store, events }),
        sip: (ctx) => createSipPart(ctx),
      },
    });
    A = t.master.accountId;
    realm = t.master.realm;
    sipRemote = `127.0.0.1:${(t.server.sip as EmbeddedSipService).address()!.port}`;
    const devices: Array<[string, string, string]> = [
      ['phone1', '805ec0000001', '3001'],
      ['phone2', '805ec0000002', '3002'],
      ['phone3', '805ec0000003', '3003'],
      ['offline', '805ec0000004', '3004'],
      ['never', '805ec0000005', '3005'],
    ];
    for (const [name, mac, user] of devices) {
      const res = await t
        .http()
        .put(`/v2/accounts/${A}/devices`)
        .set(auth())
        .send({ data: { name, mac_address: mac, sip: { username: user, password: `pw${user}` }, provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S' } } });
      expect(res.status, res.text).toBe(201);
      ids[name] = res.body.data.id;
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  /** The device's `_read_only.sip_notify` once its state is no longer `sent` (the phone's answer was handled). */
  const settledNotify = async (id: string | undefined) => {
    for (let i = 0; i < 200; i++) {
      const res = await t.http().get(`/v2/accounts/${A}/devices/${id}`).set(auth());
      const last = res.body.data._read_only?.sip_notify;
      if (last && last.state !== 'sent') return last;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the outcome of the NOTIFY was never recorded');
  };

  const register = (ip: string, user: string, port: number, contactPort: number) =>
    sipp({ scenario: 'uac-register-digest.xml', remote: sipRemote, ip, port, service: user, auth: { user, pass: `pw${user}` }, keys: { realm, contact_port: contactPort, expires: 300 } }).done;

  it('lists only registered devices in /devices/status', async () => {
    expect((await register('127.0.0.21', '3001', 22001, 22070)).code).toBe(0);
    expect((await register('127.0.0.22', '3002', 22002, 22071)).code).toBe(0);
    expect((await register('127.0.0.23', '3003', 22003, 22072)).code).toBe(0);
    const res = await t.http().get(`/v2/accounts/${A}/devices/status`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(expect.arrayContaining([{ device_id: ids.phone1, registered: true }, { device_id: ids.phone2, registered: true }]));
    expect(res.body.data.map((r: { device_id: string }) => r.device_id)).not.toContain(ids.offline);
    const device = await t.http().get(`/v2/accounts/${A}/devices/${ids.phone1}`).set(auth());
    expect(device.body.data._read_only.sip_registration).toMatchObject({ registered: true, contact: 'sip:3001@127.0.0.21:22070' });
  });

  it('POST /sync sends the vendor check-sync, says so at once, and the answer shows in _read_only.sip_notify', async () => {
    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.21', port: 22070, service: '3001' });
    const res = await t.http().post(`/v2/accounts/${A}/devices/${ids.phone1}/sync`).set(auth());
    const run = await phone.done;
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toBe('sync request sent');
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('EVENT=check-sync;reboot=false SUBSTATE=terminated');
    expect(await settledNotify(ids.phone1)).toMatchObject({ action: 'sync', event: 'check-sync;reboot=false', state: 'answered', sip_status: 200 });
  });

  it('POST /sync?reboot=true asks the vendor for a reboot', async () => {
    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.21', port: 22070, service: '3001' });
    const res = await t.http().post(`/v2/accounts/${A}/devices/${ids.phone1}/sync?reboot=true`).set(auth());
    const run = await phone.done;
    expect(res.status, res.text).toBe(200);
    expect(run.logs).toContain('EVENT=check-sync;reboot=true');
  });

  it('a sync for an unregistered device is answered as Kazoo does, kept pending, and delivered when it registers; 404 for an unknown one', async () => {
    const off = await t.http().post(`/v2/accounts/${A}/devices/${ids.offline}/sync`).set(auth());
    expect(off.status, off.text).toBe(200);
    expect(off.body).toMatchObject({ status: 'success', data: 'sync request sent' });
    const kept = await t.http().get(`/v2/accounts/${A}/devices/${ids.offline}`).set(auth());
    expect(kept.body.data._read_only.sip_notify).toMatchObject({ action: 'sync', event: 'check-sync;reboot=false', state: 'pending' });
    // The phone comes up: its REGISTER brings the kept check-sync.
    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.24', port: 22073, service: '3004' });
    expect((await register('127.0.0.24', '3004', 22004, 22073)).code).toBe(0);
    const run = await phone.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('EVENT=check-sync;reboot=false SUBSTATE=terminated');
    expect(await settledNotify(ids.offline)).toMatchObject({ action: 'sync', state: 'answered', sip_status: 200 });
    const unknown = await t.http().post(`/v2/accounts/${A}/devices/nosuchdevice0000000000000000000/sync`).set(auth());
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ message: 'bad_identifier', data: { cause: 'nosuchdevice0000000000000000000' } });
    expect((await t.http().get(`/v2/accounts/${A}/devices/${ids.phone1}/sync`).set(auth())).status).toBe(405);
  });

  it('PUT /devices/{id} action notify (seed and Kazoo forms) sends the given Event → 202, as Kazoo', async () => {
    let phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.22', port: 22071, service: '3002' });
    let res = await t.http().put(`/v2/accounts/${A}/devices/${ids.phone2}`).set(auth()).send({ action: 'notify', data: { event: 'talk' } });
    let run = await phone.done;
    expect(res.status, res.text).toBe(202);
    expect(res.body.data).toBe('NOTIFY sent');
    expect(run.logs).toContain('EVENT=talk ');

    phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.22', port: 22071, service: '3002' });
    res = await t.http().put(`/v2/accounts/${A}/devices/${ids.phone2}`).set(auth()).send({ data: { action: 'notify', data: { event: 'check-sync' } } });
    run = await phone.done;
    expect(res.status, res.text).toBe(202);
    expect(run.logs).toContain('EVENT=check-sync ');

    phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.22', port: 22071, service: '3002' });
    res = await t.http().post(`/v2/accounts/${A}/devices/${ids.phone2}/notify`).set(auth()).send({ action: 'notify', data: { event: 'hold' } });
    run = await phone.done;
    expect(res.status, res.text).toBe(202);
    expect(run.logs).toContain('EVENT=hold ');
    expect(await settledNotify(ids.phone2)).toMatchObject({ action: 'notify', event: 'hold', state: 'answered' });
  });

  it('PUT /devices/{id} action notify with a body no UDP datagram can carry → 400 naming the limit; one that fits is sent', async () => {
    const big = await t
      .http()
      .put(`/v2/accounts/${A}/devices/${ids.phone2}`)
      .set(auth())
      .send({ action: 'notify', data: { event: 'x-big', body: { content_type: 'text/plain', data: 'x'.repeat(70_000) } } });
    expect(big.status, big.text).toBe(400);
    expect(big.body).toMatchObject({ status: 'error', message: 'validation error', data: { 'data.body': { maxLength: { target: 65_000 } } } });
    expect(big.body.data['data.body'].maxLength.message).toMatch(/one UDP datagram of at most 65000 bytes \(SIP_MAX_DATAGRAM\); with this body it is 7\d{4} bytes/);

    const phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.22', port: 22071, service: '3002' });
    const fits = await t
      .http()
      .put(`/v2/accounts/${A}/devices/${ids.phone2}`)
      .set(auth())
      .send({ action: 'notify', data: { event: 'x-fits', body: { content_type: 'text/plain', data: 'x'.repeat(1000) } } });
    const run = await phone.done;
    expect(fits.status, fits.text).toBe(202);
    expect(run.logs).toContain('EVENT=x-fits ');
  });

  it('PUT /devices/{id} without or with another action keeps Kazoo errors; missing event is a validation error', async () => {
    const none = await t.http().put(`/v2/accounts/${A}/devices/${ids.phone2}`).set(auth()).send({ data: {} });
    expect(none.status).toBe(400);
    expect(none.body.message).toBe('action required');
    const other = await t.http().put(`/v2/accounts/${A}/devices/${ids.phone2}`).set(auth()).send({ action: 'reboot', data: {} });
    expect(other.status).toBe(400);
    expect(other.body.message).toBe('invalid action');
    const noEvent = await t.http().put(`/v2/accounts/${A}/devices/${ids.phone2}`).set(auth()).send({ action: 'notify', data: {} });
    expect(noEvent.status).toBe(400);
    expect(noEvent.body.message).toBe('validation error');
    const offline = await t.http().put(`/v2/accounts/${A}/devices/${ids.never}`).set(auth()).send({ action: 'notify', data: { event: 'x' } });
    expect(offline.status).toBe(202);
    const kept = await t.http().get(`/v2/accounts/${A}/devices/${ids.never}`).set(auth());
    expect(kept.body.data._read_only.sip_notify).toMatchObject({ action: 'notify', event: 'x', state: 'pending' });
  });

  it('a change that alters the phone files sends check-sync by itself; one that does not, sends nothing', async () => {
    // 1) A change invisible in the files (an unknown key Kazoo keeps), then a forced sync with reboot:
    //    the first NOTIFY the phone sees must be the forced one (reboot=true).
    let phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.23', port: 22072, service: '3003' });
    let res = await t.http().patch(`/v2/accounts/${A}/devices/${ids.phone3}`).set(auth()).send({ data: { custom_note: 'not in any template' } });
    expect(res.status, res.text).toBe(200);
    res = await t.http().patch(`/v2/accounts/${A}/devices/${ids.phone3}`).set(auth()).send({ data: { sync: true, reboot: true } });
    expect(res.status, res.text).toBe(200);
    let run = await phone.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('EVENT=check-sync;reboot=true');

    // 2) A change that lands in the phone's files (its SIP password): check-sync without being asked.
    phone = sipp({ scenario: 'uas-notify.xml', ip: '127.0.0.23', port: 22072, service: '3003' });
    res = await t.http().patch(`/v2/accounts/${A}/devices/${ids.phone3}`).set(auth()).send({ data: { sip: { password: 'pw3003-new' } } });
    expect(res.status, res.text).toBe(200);
    run = await phone.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain('EVENT=check-sync;reboot=false');
  });

  it('quickcall rings the phone with vendor auto-answer and REFERs it to the number', async () => {
    const phone = sipp({ scenario: 'uas-quickcall.xml', ip: '127.0.0.22', port: 22071, service: '3002' });
    const res = await t.http().get(`/v2/accounts/${A}/devices/${ids.phone2}/quickcall/(555)%20123-4567?timeout=5&cid-name=Desk`).set(auth());
    const run = await phone.done;
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({
      application_name: 'transfer',
      application_data: { route: '5551234567' },
      outbound_caller_id_name: 'Desk',
      outbound_caller_id_number: '5551234567',
      timeout: 5,
      outcome: 'answered',
      refer_status: 202,
      endpoints: [expect.objectContaining({ endpoint_id: ids.phone2, to_realm: realm, to_username: '3002' })],
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs).toContain(`REFER-TO=<sip:5551234567@${realm}>`);
    expect(run.logs).toContain(`callinfo=<sip:${realm}>;answer-after=0`);
  });

  it('quickcall errors: unknown device 404, unregistered 409, bad filter 400', async () => {
    expect((await t.http().get(`/v2/accounts/${A}/devices/nosuchdevice0000000000000000000/quickcall/100`).set(auth())).status).toBe(404);
    expect((await t.http().get(`/v2/accounts/${A}/devices/${ids.never}/quickcall/100`).set(auth())).status).toBe(409);
    const bad = await t.http().get(`/v2/accounts/${A}/devices/${ids.phone1}/quickcall/100?number_filter=(`).set(auth());
    expect(bad.status).toBe(400);
  });
});
