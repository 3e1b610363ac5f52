import type { DomainEvents } from '../domain/events.js';
import type { Logger } from '../log.js';
import type { Directory } from '../store/directory.js';
import type { RegistrationListener } from './registry.js';
import { SipMessageTooLargeError, type NotifyOptions, type NotifyResult, type SipService } from './service.js';

/**
 * The last sync/notify asked of each device, and what became of it. Kazoo answers `POST …/sync` and the notify
 * action at once ("sync request sent", 202) and never tells what happened; this keeps those answers and stays
 * honest: a request for a phone that is not registered is kept (`pending`) and delivered when it registers,
 * and the outcome (`sent`, `answered`, `refused`, `timed_out`) is shown under the device's
 * `_read_only.sip_notify`. One entry per existing device (a newer request replaces an older one), forgotten
 * when the device or its account is deleted: memory is bounded by the number of devices.
 */
export type OutboxState = 'pending' | 'sent' | 'answered' | 'refused' | 'timed_out';

export interface OutboxEntry {
  action: 'sync' | 'notify';
  event: string;
  state: OutboxState;
  requested_at: string;
  sent_at?: string;
  finished_at?: string;
  sip_status?: number;
  reason?: string;
}

interface Kept {
  view: OutboxEntry;
  options: NotifyOptions;
}

type ObservableSip = SipService & { onRegistration?: (listener: RegistrationListener) => () => void };

export interface DeviceOutboxDeps {
  sip: SipService;
  directory: Pick<Directory, 'getDevice'>;
  events: DomainEvents;
  log: Logger;
  now?: () => number;
}

/** Resolves on the next turn of the event loop (after every microtask already queued). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class DeviceOutbox {
  private readonly byAccount = new Map<string, Map<string, Kept>>();
  private readonly now: () => number;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly deps: DeviceOutboxDeps) {
    this.now = deps.now ?? Date.now;
    const sip = deps.sip as ObservableSip;
    const off = sip.onRegistration?.((registration, change) => {
      if (change === 'registered' || change === 'refreshed') this.deliverPending(registration.accountId, registration.deviceId);
    });
    if (off) this.unsubscribe.push(off);
    this.unsubscribe.push(
      deps.events.on((event) => {
        if (event.type === 'device.changed' && !event.after) this.byAccount.get(event.accountId)?.delete(event.deviceId);
        if (event.type === 'account.changed' && !event.after) this.byAccount.delete(event.accountId);
      }),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** What the device's answer shows under `_read_only.sip_notify`. */
  outcomeOf(accountId: string, deviceId: string): OutboxEntry | undefined {
    const kept = this.byAccount.get(accountId)?.get(deviceId);
    return kept ? { ...kept.view } : undefined;
  }

  /**
   * Records the request and sends it now if the phone is registered, else keeps it for its next REGISTER.
   * Resolves without waiting for the phone, once the message is known to fit in a datagram: a NOTIFY too large
   * to send is refused before anything leaves (same turn), and that rejects with SipMessageTooLargeError.
   */
  async request(accountId: string, deviceId: string, action: OutboxEntry['action'], options: NotifyOptions): Promise<OutboxEntry> {
    let devices = this.byAccount.get(accountId);
    if (!devices) this.byAccount.set(accountId, (devices = new Map()));
    const kept: Kept = { view: { action, event: options.event, state: 'pending', requested_at: this.stamp() }, options };
    devices.set(deviceId, kept);
    if (!this.deps.sip.registrationOf(accountId, deviceId)) return { ...kept.view };
    let tooLarge: SipMessageTooLargeError | undefined;
    const delivery = this.deliver(accountId, deviceId, kept).catch((err: unknown) => {
      if (err instanceof SipMessageTooLargeError) tooLarge = err;
    });
    await Promise.race([delivery, nextTurn()]);
    if (tooLarge) throw tooLarge;
    return { ...kept.view };
  }

  private deliverPending(accountId: string, deviceId: string): void {
    const kept = this.byAccount.get(accountId)?.get(deviceId);
    if (!kept || kept.view.state !== 'pending') return;
    if (!this.deps.directory.getDevice(accountId, deviceId)) {
      this.byAccount.get(accountId)?.delete(deviceId);
      return;
    }
    this.deliver(accountId, deviceId, kept).catch(() => undefined);
  }

  /** Sends one kept request and records its outcome (only while it is still the device's newest request). */
  private async deliver(accountId: string, deviceId: string, kept: Kept): Promise<void> {
    const current = () => this.byAccount.get(accountId)?.get(deviceId) === kept;
    kept.view = { ...kept.view, state: 'sent', sent_at: this.stamp() };
    let result: NotifyResult;
    try {
      result = await this.deps.sip.notify(accountId, deviceId, kept.options);
    } catch (err) {
      if (current()) kept.view = { ...kept.view, state: 'refused', finished_at: this.stamp(), reason: (err as Error).message };
      this.deps.log.warn('device notify failed', { account_id: accountId, device_id: deviceId, error: (err as Error).message });
      throw err;
    }
    if (!current()) return;
    if (!result.sent) {
      // Unregistered in the meantime: kept for the next REGISTER.
      const { sent_at: _never, ...rest } = kept.view;
      kept.view = { ...rest, state: 'pending' };
      return;
    }
    const status = result.status;
    const state: OutboxState = status === 408 ? 'timed_out' : status !== undefined && status < 300 ? 'answered' : 'refused';
    kept.view = {
      ...kept.view,
      state,
      finished_at: this.stamp(),
      ...(status !== undefined ? { sip_status: status } : {}),
      ...(result.reason ? { reason: result.reason } : {}),
    };
  }

  private stamp(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}
