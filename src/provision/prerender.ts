import { performance } from 'node:perf_hooks';
import type { DeviceDoc, DeviceRef } from '../domain/types.js';
import type { Logger } from '../log.js';
import type { Directory } from '../store/directory.js';
import { fetchedFiles, RenderError, type Renderer } from './renderer.js';
import type { Choice } from './select.js';

/**
 * Renders phones' files in the background when their inputs change (device, account, watched users, a template
 * layer), so that a fetch finds them ready in memory or on disk. Paced: each slice checks at most `sliceChecks`
 * files, renders at most `sliceRenders` and runs at most `sliceMs` (a device at least), then yields — to the next
 * turn of the loop when no phone asked for a file since the last slice, else for `gapMs`. While phones keep the loop
 * busy (a storm: at least `busyLoop` of the time since the last look), a walk runs one slice per `maxWaitMs` only:
 * other vendors' phones fetching right after a template edit must not notice it (at a slice every 10 ms their walk
 * lost 17%, and each slice's renders, format checks and the scavenges they cause put a 2–10 ms pause in their tail).
 * A quieter loop lets it run a slice every `gapMs`. The check after a start (idle-only work) also waits while the API has
 * requests in flight (`apiBusy`): run between the steps of a device create, its slices doubled the create's latency.
 * Checking is a fingerprint comparison (renderer.freshen): a template edit walks the devices it may concern and
 * renders only the files whose layer it changed. The format check runs here, as on every render: a file that fails
 * it is logged and not kept, and the phone's next fetch then gets today's answer for a broken file (500).
 * Correctness never waits for this job: a fetch compares fingerprints itself and renders at once when they differ.
 */
export interface PrerenderDeps {
  directory: Directory;
  renderer: Renderer;
  /** The vendor/model to render a device's files for (device-choice.ts). */
  choiceOf: (ref: DeviceRef) => Choice | undefined;
  log: Logger;
  sliceChecks?: number;
  sliceRenders?: number;
  /** Wait between slices while phones are fetching (default 10 ms). */
  gapMs?: number;
  /** Wait before looking again whether phones stopped, when only idle-only work is left (default 100 ms). */
  idleGapMs?: number;
  /** A loop at least this busy between two looks holds walks back (default 0.5). */
  busyLoop?: number;
  /** ...for this long at most after the last slice that worked (default 1000 ms): a walk never starves. */
  maxWaitMs?: number;
  /**
   * A storm stays one through a pause shorter than this (default 100 ms): phones that stop for a moment and come
   * back (the next wave of a boot storm, a client opening new connections) do not find the walk racing in between.
   */
  stormSettleMs?: number;
  /**
   * The share of time (0–1) the loop was busy since the previous call (default: perf_hooks' event-loop
   * utilization). Called at the end of each slice and when the next one is due, so it measures the others' use.
   */
  loopBusy?: () => number;
  /** Time one slice may take at most, checked after each device (default 2 ms): phones never wait longer for it. */
  sliceMs?: number;
  /** Clock for that bound (default performance.now). */
  now?: () => number;
  /** True while API requests are in flight (server.ts counts them): idle-only work waits for them. */
  apiBusy?: () => boolean;
}

/** Limits a walk: only this vendor's phones, only this device. */
export interface Scope {
  vendor?: string;
  deviceId?: string;
}

interface Walk {
  accountId: string;
  devices: DeviceDoc[] | undefined;
  at: number;
  scope: Scope;
  /** Only while no phone is fetching (the check after a start): it must not slow a boot storm down. */
  idleOnly: boolean;
}

export interface PrerenderStats {
  checked: number;
  rendered: number;
  failed: number;
  slices: number;
}

export class Prerender {
  /** Single devices (an edit): handled before walks. */
  private readonly devices = new Map<string, string>();
  private readonly walks: Walk[] = [];
  private scheduled = false;
  private closed = false;
  private waiters: Array<() => void> = [];
  private readonly sliceChecks: number;
  private readonly sliceRenders: number;
  private readonly gapMs: number;
  private readonly idleGapMs: number;
  private readonly sliceMs: number;
  private readonly busyLoop: number;
  private readonly maxWaitMs: number;
  private readonly loopBusy: () => number;
  /** When the last slice that did work started. */
  private workedAt = -Infinity;
  private readonly now: () => number;
  /** Phones asked for files since the slice before this one, or API requests are in flight. */
  private othersAsked = false;
  /** The same, or a storm's pause (stormUntil): what paces the walks. */
  private othersBusy = false;
  /** The renderer's `asked` count at the last slice: when it moved, phones are fetching. */
  private askedAt = -1;
  private readonly stormSettleMs: number;
  /** Until when a storm seen at the last look still holds walks back, though phones paused. */
  private stormUntil = -Infinity;
  readonly stats: PrerenderStats = { checked: 0, rendered: 0, failed: 0, slices: 0 };

  constructor(private readonly deps: PrerenderDeps) {
    this.sliceChecks = deps.sliceChecks ?? 100;
    this.sliceRenders = deps.sliceRenders ?? 4;
    this.gapMs = deps.gapMs ?? 10;
    this.idleGapMs = deps.idleGapMs ?? 100;
    this.sliceMs = deps.sliceMs ?? 2;
    this.busyLoop = deps.busyLoop ?? 0.5;
    this.maxWaitMs = deps.maxWaitMs ?? 1000;
    this.stormSettleMs = deps.stormSettleMs ?? 100;
    this.loopBusy = deps.loopBusy ?? loopBusySinceLastCall();
    this.now = deps.now ?? (() => performance.now());
  }

  device(accountId: string, deviceId: string): void {
    this.devices.set(deviceId, accountId);
    this.wake();
  }

  /** Every device of the account (its document or a user changed, or one of its template overrides). */
  account(accountId: string, scope: Scope = {}): void {
    if (scope.deviceId) this.device(accountId, scope.deviceId);
    else this.walks.push({ accountId, devices: undefined, at: 0, scope, idleOnly: false });
    this.wake();
  }

  /**
   * Every account's devices (a built-in template edit, optionally one vendor's; `idleOnly` for the check after a
   * start, which then waits while phones fetch: their files are valid or rendered at the fetch anyway).
   */
  all(scope: Scope = {}, idleOnly = false): void {
    for (const account of this.deps.directory.listAccounts()) this.walks.push({ accountId: account.id, devices: undefined, at: 0, scope, idleOnly });
    this.wake();
  }

  get busy(): boolean {
    return this.devices.size > 0 || this.walks.length > 0;
  }

  /** Resolves once nothing is queued (tests, the bench's "rendered" point). */
  idle(): Promise<void> {
    if (!this.busy || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.devices.clear();
    this.walks.length = 0;
    this.settle();
  }

  private wake(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    const asked = this.deps.renderer.asked;
    this.othersAsked = asked !== this.askedAt || (this.deps.apiBusy?.() ?? false);
    this.othersBusy = this.othersAsked || this.now() < this.stormUntil;
    this.askedAt = asked;
    if (!this.othersBusy) setImmediate(() => this.slice());
    else setTimeout(() => this.slice(), this.urgent ? this.gapMs : this.idleGapMs).unref();
  }

  /** Work that may not wait for phones to stop: a single device, or a walk after an edit. */
  private get urgent(): boolean {
    return this.devices.size > 0 || this.walks.some((w) => !w.idleOnly);
  }

  private settle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private slice(): void {
    this.scheduled = false;
    if (this.closed) return;
    const loopBusy = this.loopBusy();
    const started = this.now();
    // A storm of phones: walks wait (single devices, an edit through the API, do not), up to maxWaitMs, and through
    // its short pauses: a walk racing in each pause between waves left the phones coming back its renders' garbage
    // and compilations (harness at 10k, walks over other vendors after an edit: 4-14% slower, p99 9-26 ms, where
    // with the settle the second and third walks ran as fast as before the edit).
    if (this.othersAsked && loopBusy >= this.busyLoop) this.stormUntil = started + this.stormSettleMs;
    const storm = loopBusy >= this.busyLoop || started < this.stormUntil;
    if (this.othersBusy && this.devices.size === 0 && storm && started - this.workedAt < this.maxWaitMs) {
      this.wake();
      return;
    }
    this.workedAt = started;
    this.stats.slices++;
    const budget = { checks: this.sliceChecks, renders: this.sliceRenders };
    const until = started + this.sliceMs;
    while (budget.checks > 0 && budget.renders > 0 && this.now() < until) {
      const next = this.devices.entries().next();
      if (!next.done) {
        const [deviceId, accountId] = next.value;
        this.devices.delete(deviceId);
        this.freshen(accountId, this.deps.directory.getDevice(accountId, deviceId), {}, budget);
        continue;
      }
      const walk = this.othersBusy ? this.walks.find((w) => !w.idleOnly) : this.walks[0];
      if (!walk) break;
      // The account's list is taken when the walk reaches it, so it is as current as it can be.
      walk.devices ??= this.deps.directory.listDevices(walk.accountId);
      if (walk.at >= walk.devices.length) {
        this.walks.splice(this.walks.indexOf(walk), 1);
        continue;
      }
      const doc = walk.devices[walk.at++]!;
      this.freshen(walk.accountId, this.deps.directory.getDevice(walk.accountId, doc.id), walk.scope, budget);
    }
    this.loopBusy(); // the next look measures the others' use of the loop, not this slice's
    if (this.busy) this.wake();
    else {
      this.deps.log.info('provisioning: rendered files up to date', { ...this.stats });
      this.settle();
    }
  }

  private freshen(accountId: string, device: DeviceDoc | undefined, scope: Scope, budget: { checks: number; renders: number }): void {
    const account = this.deps.directory.getAccount(accountId);
    if (!account || !device || !device.mac_address || device.enabled === false || account.enabled === false) return;
    if (scope.deviceId && scope.deviceId !== device.id) return;
    const ref = { account, device };
    const choice = this.deps.choiceOf(ref);
    if (!choice || (scope.vendor && choice.profile.id !== scope.vendor)) return;
    const { renderer } = this.deps;
    for (const { file, name } of fetchedFiles(choice, device.mac_address, true)) {
      if (!file.perDevice || file.scope === 'phonebook') continue;
      budget.checks--;
      this.stats.checked++;
      const kept = renderer.keptMeta(device.id, name);
      try {
        if (renderer.freshen(ref, choice, file, name, kept ? renderer.originOf(kept.origin) : undefined) === 'rendered') {
          budget.renders--;
          this.stats.rendered++;
        }
      } catch (err) {
        budget.renders--;
        this.stats.failed++;
        if (!(err instanceof RenderError)) {
          this.deps.log.error('provisioning: background render failed', { err, account_id: accountId, device_id: device.id, file: name });
          continue;
        }
        this.deps.log.error('provisioning: rendered file rejected, not kept', { template: err.template, layer: err.layer, line: err.line, reason: err.message, account_id: accountId, device_id: device.id, file: name });
      }
    }
  }
}

/** Event-loop utilization since the previous call (perf_hooks). */
function loopBusySinceLastCall(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}
