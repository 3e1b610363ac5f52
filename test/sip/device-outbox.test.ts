import { describe, expect, it } from 'vitest';
import { DomainEvents } from '../../src/domain/events.js';
import { createLogger } from '../../src/log.js';
import { DeviceOutbox } from '../../src/sip/device-outbox.js';
import type { RegistrationChange, RegistrationListener } from '../../src/sip/registry.js';
import { SipMessageTooLargeError, type NotifyOptions, type NotifyResult, type Registration, type SipService } from '../../src/sip/service.js';

/** A SipService whose registrations and NOTIFY answers the test decides, one by one. */
function fakeSip() {
  const registered = new Set<string>();
  const listeners = new Set<RegistrationListener>();
  const sent: Array<{ deviceId: string; options: NotifyOptions; answer: (r: NotifyResult) => void; fail: (e: Error) => void }> = [];
  const reg = (deviceId: string) => ({ accountId: 'acc', deviceId, username: deviceId, realm: 'r', contact: '', source: { address: '127.0.0.1', port: 5060 }, expiresAt: 0 }) as Registration;
  const sip: SipService & { onRegistration(l: RegistrationListener): () => void } = {
    start: async () => undefined,
    stop: async () => undefined,
    registrations: () => [...registered].map(reg),
    registrationOf: (_a, d) => (registered.has(d) ? reg(d) : undefined),
    notify: (_a, deviceId, options) =>
      new Promise<NotifyResult>((answer, fail) => {
        if (options.event === 'huge') throw new SipMessageTooLargeError(70_000, 65_000);
        sent.push({ deviceId, options, answer, fail });
      }),
    quickCall: async () => ({ callId: '', outcome: 'not_registered' }),
    onRegistration(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const change = (deviceId: string, what: RegistrationChange) => {
    if (what === 'registered' || what === 'refreshed') registered.add(deviceId);
    else registered.delete(deviceId);
    for (const l of listeners) l(reg(deviceId), what);
  };
  return { sip, sent, change };
}

function setUp() {
  const fake = fakeSip();
  const events = new DomainEvents();
  let clock = Date.UTC(2026, 0, 1, 12, 0, 0);
  const devices = new Set(['d1', 'd2']);
  const outbox = new DeviceOutbox({
    sip: fake.sip,
    events,
    log: createLogger('silent'),
    directory: { getDevice: (_a, id) => (devices.has(id) ? ({ id } as never) : undefined) },
    now: () => clock,
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { ...fake, events, outbox, settle, devices, tick: (ms: number) => (clock += ms) };
}

describe('DeviceOutbox: the last sync/notify of each device and what became of it', () => {
  it('answers at once for a registered phone; records sent, then the phone answer (answered / refused / timed out)', async () => {
    const { outbox, sent, change, settle, tick } = setUp();
    change('d1', 'registered');
    const first = await outbox.request('acc', 'd1', 'sync', { event: 'check-sync' });
    expect(first).toMatchObject({ action: 'sync', state: 'sent', requested_at: '2026-01-01T12:00:00Z', sent_at: '2026-01-01T12:00:00Z' });
    tick(1500);
    sent[0]!.answer({ sent: true, status: 200, reason: 'OK' });
    await settle();
    expect(outbox.outcomeOf('acc', 'd1')).toMatchObject({ state: 'answered', sip_status: 200, finished_at: '2026-01-01T12:00:01Z' });

    await outbox.request('acc', 'd1', 'notify', { event: 'talk' });
    sent[1]!.answer({ sent: true, status: 489, reason: 'Bad Event' });
    await settle();
    expect(outbox.outcomeOf('acc', 'd1')).toMatchObject({ action: 'notify', event: 'talk', state: 'refused', sip_status: 489, reason: 'Bad Event' });

    await outbox.request('acc', 'd1', 'sync', { event: 'check-sync' });
    sent[2]!.answer({ sent: true, status: 408, reason: 'Request Timeout' });
    await settle();
    expect(outbox.outcomeOf('acc', 'd1')).toMatchObject({ state: 'timed_out', sip_status: 408 });
  });

  it('keeps a request for an unregistered phone pending and delivers it on its REGISTER', async () => {
    const { outbox, sent, change, settle } = setUp();
    expect(await outbox.request('acc', 'd2', 'sync', { event: 'check-sync;reboot=true' })).toMatchObject({ state: 'pending' });
    expect(sent).toHaveLength(0);
    change('d2', 'registered');
    expect(sent.map((s) => s.options.event)).toEqual(['check-sync;reboot=true']);
    expect(outbox.outcomeOf('acc', 'd2')).toMatchObject({ state: 'sent' });
    sent[0]!.answer({ sent: true, status: 200 });
    await settle();
    expect(outbox.outcomeOf('acc', 'd2')).toMatchObject({ state: 'answered' });
    change('d2', 'refreshed');
    expect(sent).toHaveLength(1); // delivered once, not on every refresh
  });

  it('a newer request replaces an older one, whose late answer is not recorded over it', async () => {
    const { outbox, sent, change, settle } = setUp();
    change('d1', 'registered');
    await outbox.request('acc', 'd1', 'notify', { event: 'first' });
    await outbox.request('acc', 'd1', 'notify', { event: 'second' });
    sent[0]!.answer({ sent: true, status: 500 });
    await settle();
    expect(outbox.outcomeOf('acc', 'd1')).toMatchObject({ event: 'second', state: 'sent' });
  });

  it('a phone gone between the request and the send is pending again; a NOTIFY too large rejects at once', async () => {
    const { outbox, sent, change, settle } = setUp();
    change('d1', 'registered');
    await outbox.request('acc', 'd1', 'sync', { event: 'check-sync' });
    sent[0]!.answer({ sent: false, reason: 'not registered' });
    await settle();
    expect(outbox.outcomeOf('acc', 'd1')).toMatchObject({ state: 'pending' });
    expect(outbox.outcomeOf('acc', 'd1')!.sent_at).toBeUndefined();
    await expect(outbox.request('acc', 'd1', 'notify', { event: 'huge' })).rejects.toBeInstanceOf(SipMessageTooLargeError);
  });

  it('forgets a deleted device, and does not deliver to one deleted while pending', async () => {
    const { outbox, sent, change, events, devices } = setUp();
    await outbox.request('acc', 'd1', 'sync', { event: 'check-sync' });
    events.emit({ type: 'device.changed', accountId: 'acc', deviceId: 'd1', before: undefined, after: undefined });
    expect(outbox.outcomeOf('acc', 'd1')).toBeUndefined();
    await outbox.request('acc', 'd2', 'sync', { event: 'check-sync' });
    devices.delete('d2');
    change('d2', 'registered');
    expect(sent).toHaveLength(0);
    expect(outbox.outcomeOf('acc', 'd2')).toBeUndefined();
  });
});
