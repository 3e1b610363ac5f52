import { describe, expect, it } from 'vitest';
import { DomainEvents } from '../../src/domain/events.js';
import { createResyncCoordinator } from '../../src/resync/index.js';
import type { PacerClock } from '../../src/resync/pacer.js';
import { RegistrationTable } from '../../src/sip/registry.js';
import type { NotifyOptions, NotifyResult, QuickCallResult, Registration, SipService } from '../../src/sip/service.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';

/**
 * Unit tests of the coordinator's decisions with a fake provisioning (fingerprints we control) and a fake
 * SIP service recording NOTIFYs. The wire side is covered by api.sipp.test.ts with real provisioning.
 */
const ACC = 'acc1';

/**
 * The pacer's clock, fast-forwarded: each timer fires on the next turn of the event loop with time moved to
 * its due moment, so pacing is exercised in full without waiting for wall time to pass.
 */
function fastForwardClock(): PacerClock {
  let t = 0;
  return {
    now: () => t,
    schedule(fn, ms) {
      let cancelled = false;
      setImmediate(() => {
        if (cancelled) return;
        t += ms;
        fn();
      });
      return () => {
        cancelled = true;
      };
    },
  };
}

function setup(rate = 1000) {
  const directory = new MemoryDirectory();
  directory.addAccount({ id: ACC, realm: 'r.test' });
  for (let i = 0; i < 50; i++) directory.addDevice(ACC, { id: `d${i}`, sip: { username: `u${i}`, password: 'p' }, owner_id: i < 3 ? 'user1' : undefined });
  const table = new RegistrationTable(directory);
  const sent: Array<{ deviceId: string; event: string }> = [];
  const sip: SipService & { onRegistration: RegistrationTable['onChange'] } = {
    start: async () => undefined,
    stop: async () => undefined,
    registrations: (a) => table.list(a),
    registrationOf: (a, d) => table.get(a, d),
    notify: async (_a: string, d: string, o: NotifyOptions): Promise<NotifyResult> => {
      sent.push({ deviceId: d, event: o.event });
      return { sent: true, status: 200 };
    },
    quickCall: async (): Promise<QuickCallResult> => ({ callId: '', outcome: 'failed' }),
    onRegistration: (l) => table.onChange(l),
  };
  const files = new Map<string, string>();
  const provisioning = {
    fingerprint: async (_a: string, d: string) => files.get(d) ?? 'v1',
    checkSyncEvent: (_a: string, _d: string, reboot: boolean) => `check-sync;reboot=${reboot}`,
  };
  const events = new DomainEvents();
  const register = (deviceId: string) => {
    const reg: Registration = { accountId: ACC, deviceId, username: deviceId.replace('d', 'u'), realm: 'r.test', contact: 'sip:x@127.0.0.2', source: { address: '127.0.0.2', port: 5060 }, expiresAt: Date.now() + 60_000 };
    table.upsert(reg);
  };
  const coordinator = createResyncCoordinator({ config: sipTestConfig({ RESYNC_RATE: String(rate) }), log: quietLog, directory, events, sip, provisioning, clock: fastForwardClock() });
  const change = (deviceId: string, sync?: { reboot: boolean }) =>
    events.emit({ type: 'device.changed', accountId: ACC, deviceId, before: directory.devices.get(deviceId), after: directory.devices.get(deviceId), sync });
  /** Change a device and wait until the coordinator has done what it will do about it. */
  const settle = async (deviceId: string, sync?: { reboot: boolean }) => {
    change(deviceId, sync);
    await coordinator.idle();
  };
  return { directory, sent, files, events, register, coordinator, change, settle };
}

describe('resync coordinator', () => {
  it('notifies a registered phone when its files changed, with the vendor event', async () => {
    const s = setup();
    s.register('d1');
    await s.coordinator.idle();
    s.files.set('d1', 'v2');
    await s.settle('d1');
    expect(s.sent).toEqual([{ deviceId: 'd1', event: 'check-sync;reboot=false' }]);
    s.coordinator.stop();
  });

  it('sends nothing when a change leaves the files alone, or for an unregistered phone', async () => {
    const s = setup();
    s.register('d1');
    s.change('d1');
    s.files.set('d2', 'v9');
    s.change('d2');
    await s.coordinator.idle();
    expect(s.sent).toEqual([]);
    s.coordinator.stop();
  });

  it('forces a NOTIFY for "sync": true even when files are unchanged, honouring reboot', async () => {
    const s = setup();
    s.register('d1');
    await s.settle('d1', { reboot: true });
    expect(s.sent).toEqual([{ deviceId: 'd1', event: 'check-sync;reboot=true' }]);
    s.coordinator.stop();
  });

  it('records the fingerprint after a NOTIFY (a second identical change sends nothing)', async () => {
    const s = setup();
    s.register('d1');
    s.files.set('d1', 'v2');
    await s.settle('d1');
    await s.settle('d1');
    expect(s.sent).toHaveLength(1);
    s.coordinator.stop();
  });

  it('re-checks owned devices on user changes and every registered phone on template changes, paced', async () => {
    const s = setup(20);
    for (let i = 0; i < 40; i++) s.register(`d${i}`);
    for (let i = 0; i < 40; i++) s.files.set(`d${i}`, 'v2');
    s.events.emit({ type: 'user.changed', accountId: ACC, userId: 'user1' });
    await s.coordinator.idle();
    expect(s.sent.map((x) => x.deviceId).sort()).toEqual(['d0', 'd1', 'd2']);
    s.events.emit({ type: 'templates.changed' });
    expect(s.coordinator.pending()).toBeGreaterThan(0); // paced, not all at once
    await s.coordinator.idle();
    expect(s.sent).toHaveLength(40);
    s.coordinator.stop();
  });

  it('an account change no phone file is made from (api key, limits, configs, apps, whitelabel) re-checks no phone', async () => {
    const s = setup(20);
    for (let i = 0; i < 40; i++) s.register(`d${i}`);
    const before = s.directory.getAccount(ACC)!;
    const extrasOnly = { ...before, _rev: '2-x', pvt_api_key: 'k2', pvt_configs: { kazoo_endpoint: { a: 1 } }, pvt_limits: { twoway_trunks: 2 } };
    s.events.emit({ type: 'account.changed', accountId: ACC, before, after: extrasOnly });
    expect(s.coordinator.pending()).toBe(0);
    s.events.emit({ type: 'account.changed', accountId: ACC, before: extrasOnly, after: { ...extrasOnly, timezone: 'Europe/Paris' } });
    expect(s.coordinator.pending()).toBeGreaterThan(0);
    await s.coordinator.idle();
    s.coordinator.stop();
  });

  it('forgets a deleted device', async () => {
    const s = setup();
    s.register('d1');
    s.files.set('d1', 'v2');
    s.events.emit({ type: 'device.changed', accountId: ACC, deviceId: 'd1', before: s.directory.devices.get('d1') });
    await s.coordinator.idle();
    expect(s.sent).toEqual([]);
    s.coordinator.stop();
  });
});
