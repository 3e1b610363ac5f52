import { hash } from 'node:crypto';
import type { DeviceRef } from '../domain/types.js';
import type { FirmwareStore } from './firmware.js';
import type { UserLookup } from './input.js';
import type { RequestOrigin, ServerDefaults } from './settings.js';
import type { TemplateStore } from './templates.js';

/**
 * The one validity rule for what phones are served: a rendered per-device file is keyed by a fingerprint of
 * everything it was made from — the device's and account's `_rev`, the revisions of the users its keys watch, the
 * stamp of exactly the template layer it used (that vendor and file, at the device, account or built-in layer),
 * the vendor and model it was rendered for, the request origin when a default depends on it, the firmware present,
 * the server defaults and the rendering code. The memory cache, the files kept on disk and the front door's kept
 * answers all compare this value; nothing else decides whether bytes may be served. Revisions and stamps are
 * stable across restarts, so a file kept by the previous run is valid exactly when its inputs are unchanged.
 */
export interface FingerprintDeps {
  templates: TemplateStore;
  getUser: UserLookup;
  server: ServerDefaults;
  firmware?: FirmwareStore;
  /** renderCodeStamp() in the server; fixed in tests. */
  codeStamp: string;
  /** The directory's change count (Directory.changes), when it keeps one. */
  documentChanges?: () => number | undefined;
}

/** What of a file's fingerprint may change while it is kept. */
export interface FingerprintInputs {
  deviceRev: string;
  accountRev: string;
  stamp: string;
  firmware: string;
  userRevs: readonly string[];
}

export class FileFingerprints {
  private readonly constant: string;
  /** Defaults come from the request's Host only when neither the public address nor the base URL is configured. */
  private readonly originMatters: boolean;

  constructor(private readonly deps: FingerprintDeps) {
    this.constant = `${deps.codeStamp}|${JSON.stringify(deps.server)}`;
    this.originMatters = !(deps.server.publicAddress && deps.server.baseUrl);
  }

  /** The part of a request's origin a file depends on ('' when none): recorded with the file. */
  originKey(origin: RequestOrigin): string {
    return this.originMatters ? `${origin.scheme}://${origin.host}` : '';
  }

  /**
   * The fingerprint of a per-device file made from `template` for (vendor, model), watching `userIds` (which the
   * kept file records: they follow from the device revision, which is part of the value). Undefined when the vendor
   * has no such template.
   */
  of(ref: DeviceRef, vendor: string, model: string, template: string, originKey: string, userIds: readonly string[]): string | undefined {
    const now = this.inputs(ref, vendor, template, userIds);
    return now && this.ofInputs(ref, vendor, model, template, originKey, userIds, now);
  }

  /** The same value from inputs already read (`inputs()`, for the same arguments). */
  ofInputs(ref: DeviceRef, vendor: string, model: string, template: string, originKey: string, userIds: readonly string[], now: FingerprintInputs): string {
    const { device, account } = ref;
    let text = `${this.constant}|${now.firmware}|${account.id}|${now.accountRev}|${device.id}|${now.deviceRev}|${vendor}|${model}|${template}|${now.stamp}|${originKey}`;
    for (let i = 0; i < userIds.length; i++) text += `|${userIds[i]}=${now.userRevs[i]}`;
    // One-shot hash: no Hash object per fetch (this runs on every served file).
    return hash('sha1', text, 'base64url');
  }

  /**
   * The inputs of that fingerprint which can change while a file is kept (the rest — ids, vendor, model, origin,
   * code and server defaults — are fixed for its holder), as they are now.
   */
  inputs(ref: DeviceRef, vendor: string, template: string, userIds: readonly string[]): FingerprintInputs | undefined {
    const { device, account } = ref;
    const { templates, firmware, getUser } = this.deps;
    const stamp = templates.stamp(vendor, template, account.id, device.id);
    if (stamp === undefined) return undefined;
    firmware?.refresh();
    const userRevs = userIds.map((id) => getUser(account.id, id)?._rev ?? '');
    return { deviceRev: device._rev, accountRev: account._rev, stamp, firmware: firmware?.stamp ?? '', userRevs };
  }

  /**
   * A count that moves whenever any input of a fingerprint of this vendor's files may have changed (a document, one
   * of the vendor's template layers, the firmware present); undefined when the directory keeps no count. Every part
   * only grows, so their sum moves exactly when one of them does. A holder that found its inputs unchanged at one
   * count may skip comparing them again while the count stays: another vendor's template edit leaves it alone.
   */
  changes(vendor: string): number | undefined {
    const documents = this.deps.documentChanges?.();
    if (documents === undefined) return undefined;
    const { firmware } = this.deps;
    firmware?.refresh();
    return documents + this.deps.templates.versionOf(vendor) + (firmware?.version ?? 0);
  }

  /**
   * The same rule for a holder that recorded the inputs when the fingerprint matched (a kept answer in the front
   * door): equal inputs are an equal fingerprint, compared without hashing on every replay.
   */
  unchanged(ref: DeviceRef, vendor: string, template: string, userIds: readonly string[], held: FingerprintInputs): boolean {
    const { device, account } = ref;
    const { templates, firmware, getUser } = this.deps;
    if (device._rev !== held.deviceRev || account._rev !== held.accountRev) return false;
    if (templates.stamp(vendor, template, account.id, device.id) !== held.stamp) return false;
    firmware?.refresh();
    if ((firmware?.stamp ?? '') !== held.firmware) return false;
    for (let i = 0; i < userIds.length; i++) if ((getUser(account.id, userIds[i]!)?._rev ?? '') !== held.userRevs[i]) return false;
    return true;
  }
}
