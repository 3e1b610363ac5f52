import type { Config } from '../config.js';
import type { DomainEvent, DomainEvents } from '../domain/events.js';
import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import type { RegistrationListener } from '../sip/registry.js';
import type { SipService } from '../sip/service.js';
import type { Directory } from '../store/directory.js';
import { Pacer, type PacerClock } from './pacer.js';
import { changedOnlyOutsidePhoneFiles } from '../accounts/account-extras.js';
import type { Registration } from '../sip/service.js';

/**
 * In a cluster, which node sends a phone's check-sync (src/cluster/registration-ownership.ts). Without it this
 * process owns every binding it knows.
 */
export interface ResyncOwnership {
  owns(registration: Registration): boolean;
  ownerAlive(registration: Registration): boolean;
  claim(registration: Registration): Promise<boolean>;
}

/**
 * Sends check-sync by itself when, and only when, what a registered phone would download has changed.
 *
 * "Changed" is decided by provisioning's fingerprint (a digest of the phone's files), not by which fields
 * were edited: a new display name that lands in a template changes the files, a note field does not.
 * The fingerprint a phone is known to have is recorded when it registers (it fetched its files at boot)
 * and after each NOTIFY we send (it will fetch them again). A device.changed carrying `sync` (the API's
 * `"sync": true`) forces a NOTIFY even when the files did not change. Every check goes through a pacer
 * at config.sip.resyncRate per second so one template edit does not NOTIFY ten thousand phones at once.
 */
export interface ResyncDeps {
  config: Config;
  log: Logger;
  directory: Directory;
  events: DomainEvents;
  sip: SipService;
  provisioning: Pick<ProvisioningService, 'fingerprint' | 'checkSyncEvent'>;
  /** The pacer's clock (tests drive it by hand; default: performance.now and real timers). */
  clock?: PacerClock;
  /**
   * Cluster: every node sees every change, only the binding's owner sends; a binding whose owner is gone is claimed
   * (one node wins) and then sent, since no baseline of what the phone has is known here.
   */
  ownership?: ResyncOwnership;
}

interface Job {
  accountId: string;
  deviceId: string;
  force: boolean;
  reboot: boolean;
}

export interface ResyncCoordinator {
  stop(): void;
  /** Jobs waiting for the pacer (tests, bench). */
  pending(): number;
  /** Resolves when the queue is empty and nothing is in flight (tests, bench). */
  idle(): Promise<void>;
}

type ObservableSip = SipService & { onRegistration?: (listener: RegistrationListener) => () => void };

export function createResyncCoordinator(deps: ResyncDeps): ResyncCoordinator {
  const { log, directory, events, provisioning } = deps;
  const sip = deps.sip as ObservableSip;
  const ownership = deps.ownership;
  const owned = (r: Registration) => !ownership || ownership.owns(r);
  const key = (accountId: string, deviceId: string) => `${accountId}/${deviceId}`;
  /** What each registered phone is known to have downloaded. A promise: recording is async. */
  const known = new Map<string, Promise<string | null>>();
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];

  const fingerprint = (accountId: string, deviceId: string): Promise<string | null> =>
    provisioning.fingerprint(accountId, deviceId).catch((err: unknown) => {
      log.warn('resync: fingerprint failed', { account_id: accountId, device_id: deviceId, error: (err as Error).message });
      return null;
    });

  const record = (accountId: string, deviceId: string) => known.set(key(accountId, deviceId), fingerprint(accountId, deviceId));

  const settle = () => {
    if (inFlight === 0 && pacer.size === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const run = async (job: Job): Promise<void> => {
    inFlight++;
    try {
      const k = key(job.accountId, job.deviceId);
      const registration = sip.registrationOf(job.accountId, job.deviceId);
      if (!registration) {
        known.delete(k);
        return;
      }
      // Another node's phone: its owner sends, unless it is gone and this node wins the claim.
      const claimed = !owned(registration);
      if (claimed && !(await ownership!.claim(registration))) return;
      const current = await fingerprint(job.accountId, job.deviceId);
      // A binding just taken over has no baseline here (the adoption's own record would equal `current`).
      const previous = claimed ? undefined : known.has(k) ? await known.get(k) : undefined;
      const changed = (previous !== undefined || claimed) && current !== null && current !== previous;
      if (!job.force && !changed) {
        log.debug('resync: files unchanged', { account_id: job.accountId, device_id: job.deviceId, baseline: previous !== undefined });
        if (previous === undefined) known.set(k, Promise.resolve(current)); // first sight: baseline only
        return;
      }
      const event = provisioning.checkSyncEvent(job.accountId, job.deviceId, job.reboot);
      const result = await sip.notify(job.accountId, job.deviceId, { event });
      if (result.sent) known.set(k, Promise.resolve(current));
      log.info('resync: check-sync', {
        account_id: job.accountId,
        device_id: job.deviceId,
        event,
        forced: job.force,
        sent: result.sent,
        status: result.status,
      });
    } finally {
      inFlight--;
      settle();
    }
  };

  const pacer = new Pacer<Job>(
    deps.config.sip.resyncRate,
    run,
    (a, b) => ({ ...b, force: a.force || b.force, reboot: a.reboot || b.reboot }),
    (err) => log.error('resync job failed', { error: err }),
    { clock: deps.clock },
  );

  const enqueue = (accountId: string, deviceId: string, force = false, reboot = false) => {
    const registration = sip.registrationOf(accountId, deviceId);
    if (!registration) return; // nothing to tell an offline phone
    // Owned by another live node: that node sees the same change and sends; nothing is queued here for it.
    if (ownership && !ownership.owns(registration) && ownership.ownerAlive(registration)) {
      log.debug('resync: left to its owner', { account_id: accountId, device_id: deviceId, node: registration.node });
      return;
    }
    pacer.push(key(accountId, deviceId), { accountId, deviceId, force, reboot });
  };
  const enqueueAccount = (accountId: string) => {
    for (const r of sip.registrations(accountId)) enqueue(accountId, r.deviceId);
  };

  const onEvent = (event: DomainEvent) => {
    switch (event.type) {
      case 'device.changed':
        if (!event.after) {
          known.delete(key(event.accountId, event.deviceId));
          pacer.drop(key(event.accountId, event.deviceId));
          return;
        }
        enqueue(event.accountId, event.deviceId, event.sync !== undefined, event.sync?.reboot ?? false);
        return;
      case 'user.changed':
        for (const r of sip.registrations(event.accountId)) {
          const device = directory.getDevice(event.accountId, r.deviceId);
          const hotdesked = Object.keys(device?.hotdesk?.users ?? {}).includes(event.userId);
          if (device && (device.owner_id === event.userId || hotdesked)) enqueue(event.accountId, r.deviceId);
        }
        return;
      case 'account.changed':
        if (event.before && event.after && changedOnlyOutsidePhoneFiles(event.before, event.after)) return;
        enqueueAccount(event.accountId);
        return;
      case 'templates.changed':
        if (event.accountId && event.deviceId) enqueue(event.accountId, event.deviceId);
        else if (event.accountId) enqueueAccount(event.accountId);
        else for (const account of directory.listAccounts()) enqueueAccount(account.id);
        return;
    }
  };

  const unsubscribeEvents = events.on((event) => {
    try {
      onEvent(event);
    } catch (err) {
      log.error('resync: event handling failed', { type: event.type, error: err });
    }
  });
  const unsubscribeSip =
    sip.onRegistration?.((registration, change) => {
      if (change === 'registered' && owned(registration)) record(registration.accountId, registration.deviceId);
      else if (change !== 'refreshed' || !owned(registration)) known.delete(key(registration.accountId, registration.deviceId));
    }) ?? (() => undefined);
  // Phones registered before we started (or a backend without registration events): baseline them now.
  for (const account of directory.listAccounts()) for (const r of sip.registrations(account.id)) if (owned(r)) record(account.id, r.deviceId);

  return {
    stop() {
      unsubscribeEvents();
      unsubscribeSip();
      pacer.clear();
      known.clear();
      settle();
    },
    pending: () => pacer.size,
    idle: () =>
      inFlight === 0 && pacer.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            idleWaiters.push(resolve);
          }),
  };
}
