import { EventEmitter } from 'node:events';
import type { AccountDoc, DeviceDoc, UserDoc } from './types.js';

/**
 * What the store announces after a write is durably on disk. Data flows one way:
 * HTTP -> validate -> store -> (these events) -> render cache / SIP notify.
 * `before`/`after` are snapshots (deep copies), safe to keep.
 * `origin` says who wrote it: this node ('local', also when absent), or another node sharing the database
 * ('remote', learnt from the change feed): caches drop what they hold either way, but what must happen once in
 * the cluster (a check-sync NOTIFY) is done by the writing node only.
 */
export type ChangeOrigin = 'local' | 'remote';

export type DomainEvent =
  | {
      type: 'device.changed';
      accountId: string;
      deviceId: string;
      before?: DeviceDoc;
      after?: DeviceDoc;
      /** Set when the API request carried `"sync": true`: re-sync the phone even if its files did not change. */
      sync?: { reboot: boolean };
      origin?: ChangeOrigin;
    }
  | { type: 'user.changed'; accountId: string; userId: string; before?: UserDoc; after?: UserDoc; origin?: ChangeOrigin }
  | { type: 'account.changed'; accountId: string; before?: AccountDoc; after?: AccountDoc; origin?: ChangeOrigin }
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
