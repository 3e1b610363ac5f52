import { EventEmitter } from 'node:events';
import type { AccountDoc, DeviceDoc, UserDoc } from './types.js';

/**
 * What the store announces after a write is durably on disk. Data flows one way:
 * HTTP -> validate -> store -> (these events) -> render cache / SIP notify.
 * `before`/`after` are snapshots (deep copies), safe to keep.
 */
export type DomainEvent =
  | {
      type: 'device.changed';
      accountId: string;
      deviceId: string;
      before?: DeviceDoc;
      after?: DeviceDoc;
      /** Set when the API request carried `"sync": true`: re-sync the phone even if its files did not change. */
      sync?: { reboot: boolean };
    }
  | { type: 'user.changed'; accountId: string; userId: string; before?: UserDoc; after?: UserDoc }
  | { type: 'account.changed'; accountId: string; before?: AccountDoc; after?: AccountDoc }
  /** A template override was added, replaced or removed. No accountId = built-in templates reloaded. */
  | { type: 'templates.changed'; accountId?: string; deviceId?: string; vendor?: string };

export class DomainEvents {
  private readonly emitter = new EventEmitter();
  constructor() {
    this.emitter.setMaxListeners(50);
  }
  emit(event: DomainEvent): void {
    this.emitter.emit('event', event);
  }
  on(listener: (event: DomainEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
