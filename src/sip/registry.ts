import type { Directory } from '../store/directory.js';
import type { Registration } from './service.js';

export type RegistrationChange = 'registered' | 'refreshed' | 'unregistered' | 'expired' | 'dropped';
export type RegistrationListener = (registration: Registration, change: RegistrationChange) => void;

/**
 * Location service: one binding per device (the newest REGISTER wins, as a desk phone has one line per
 * account). Shared by both backends. Expiry is enforced twice: lazily on every read (so answers are
 * exact) and by a periodic sweep (so memory and listeners see expiries even when nobody asks).
 * A device that was deleted or disabled in the store is dropped on the next read or sweep: the registrar
 * does not need to subscribe to store events for that.
 */
export class RegistrationTable {
  private readonly byAccount = new Map<string, Map<string, Registration>>();
  private readonly listeners = new Set<RegistrationListener>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly directory: Directory,
    private readonly now: () => number = Date.now,
  ) {}

  startSweeping(intervalMs = 1000): void {
    this.stopSweeping();
    this.timer = setInterval(() => this.sweep(), intervalMs);
    this.timer.unref();
  }

  stopSweeping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  onChange(listener: RegistrationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(registration: Registration, change: RegistrationChange): void {
    for (const l of this.listeners) {
      try {
        l(registration, change);
      } catch {
        // A listener's failure must not break the registrar.
      }
    }
  }

  upsert(registration: Registration): RegistrationChange {
    let devices = this.byAccount.get(registration.accountId);
    if (!devices) this.byAccount.set(registration.accountId, (devices = new Map()));
    const previous = devices.get(registration.deviceId);
    devices.set(registration.deviceId, registration);
    const change: RegistrationChange =
      previous &&
      previous.contact === registration.contact &&
      previous.source.address === registration.source.address &&
      previous.source.port === registration.source.port &&
      previous.node === registration.node
        ? 'refreshed'
        : 'registered';
    this.emit(registration, change);
    return change;
  }

  remove(accountId: string, deviceId: string, change: RegistrationChange = 'unregistered'): void {
    const devices = this.byAccount.get(accountId);
    const existing = devices?.get(deviceId);
    if (!devices || !existing) return;
    devices.delete(deviceId);
    if (devices.size === 0) this.byAccount.delete(accountId);
    this.emit(existing, change);
  }

  /** Binding still valid: not expired, device still exists, enabled, same SIP identity. */
  private alive(reg: Registration): RegistrationChange | undefined {
    if (reg.expiresAt <= this.now()) return 'expired';
    const device = this.directory.getDevice(reg.accountId, reg.deviceId);
    const account = this.directory.getAccount(reg.accountId);
    if (!device || !account || device.enabled === false || account.enabled === false) return 'dropped';
    const method = device.sip?.method ?? 'password';
    if (method !== 'ip' && (device.sip?.username ?? '').toLowerCase() !== reg.username.toLowerCase()) return 'dropped';
    return undefined;
  }

  get(accountId: string, deviceId: string): Registration | undefined {
    const reg = this.byAccount.get(accountId)?.get(deviceId);
    if (!reg) return undefined;
    const dead = this.alive(reg);
    if (dead) {
      this.remove(accountId, deviceId, dead);
      return undefined;
    }
    return reg;
  }

  list(accountId: string): Registration[] {
    const devices = this.byAccount.get(accountId);
    if (!devices) return [];
    return [...devices.keys()].map((id) => this.get(accountId, id)).filter((r): r is Registration => r !== undefined);
  }

  all(): Registration[] {
    return [...this.byAccount.keys()].flatMap((a) => this.list(a));
  }

  sweep(): void {
    this.all();
  }
}
