import { createHash } from 'node:crypto';
import type { AccountDoc, DeviceRef, UserDoc } from '../domain/types.js';
import type { DirectoryEntry, VendorFile, VendorProfile } from '../../vendors/types.js';
import { fetchesFile, resolveModel } from './catalogue.js';
import type { FirmwareStore } from './firmware.js';
import { checkFormat, FormatError } from './formats.js';
import { buildInput, OFFLINE_ENV, type UserLookup } from './input.js';
import { clean } from './sanitize.js';
import type { RequestOrigin, ServerDefaults } from './settings.js';
import type { Choice } from './select.js';
import { TemplateError, type LayerName, type TemplateStore } from './templates.js';

/**
 * Renders files and keeps them. A device's files stay valid while the device's and its account's `_rev`, the
 * template store version, the chosen vendor/model and the revisions of the users its keys watch are unchanged;
 * all of that is checked on every hit (a handful of Map lookups), so no event can be missed.
 */
export interface RenderedFile {
  name: string;
  body: Buffer;
  contentType: string;
  perDevice: boolean;
  template: string;
  layer: LayerName;
  /**
   * The 200 response's headers as a flat [name, value, …] list, built once with the body: the hot path hands it to
   * writeHead as is instead of rebuilding and walking a header object per request.
   */
  headers: readonly string[];
}

export class RenderError extends Error {
  constructor(
    message: string,
    readonly template: string,
    readonly layer: LayerName,
    readonly line?: number,
  ) {
    super(message);
  }
}

interface DeviceEntry {
  deviceRev: string;
  accountRev: string;
  version: number;
  vendor: string;
  model: string;
  /** Scheme and Host the files were rendered for (defaults such as the provisioning URL come from it). */
  origin: string;
  /** Watched users and the revision each had at render time, flat (no iterator on the hit path). */
  userIds: string[];
  userRevs: Array<string | undefined>;
  files: Map<string, RenderedFile>;
}

/** What the renderer needs besides templates and users: server defaults, firmware, the account's user list. */
export interface RenderEnv {
  server: ServerDefaults;
  /** Origin for renders outside a phone request (API preview, sync fingerprint). */
  defaultOrigin: RequestOrigin;
  firmware?: FirmwareStore;
  listUsers?: (accountId: string) => UserDoc[];
}

const OFFLINE_RENDER_ENV: RenderEnv = { server: OFFLINE_ENV.server, defaultOrigin: OFFLINE_ENV.origin };
const MAX_DIRECTORY = 5000;

export class Renderer {
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly shared = new Map<string, RenderedFile & { version: number }>();
  private readonly phonebooks = new Map<string, RenderedFile>();
  private renderCount = 0;

  constructor(
    private readonly templates: TemplateStore,
    private readonly getUser: UserLookup,
    private readonly maxDevices = 200_000,
    private readonly env: RenderEnv = OFFLINE_RENDER_ENV,
  ) {}

  /** Drops a device's files (e.g. on delete); correctness never depends on this, memory does. */
  forget(deviceId: string): void {
    this.devices.delete(deviceId);
  }

  get size(): number {
    return this.devices.size;
  }

  /** Templates run so far: a cache hit runs none (tests, diagnostics). */
  get renders(): number {
    return this.renderCount;
  }

  /**
   * Bumped by every template change (built-in reload, account or device override) and by every change of the
   * firmware present (configs point at firmware only when its file exists). Both counters only grow, so the sum does.
   */
  get templateVersion(): number {
    return this.templates.version + (this.env.firmware ? (this.env.firmware.refresh(), this.env.firmware.version) : 0);
  }

  /** The users a device's cached files were rendered from (presence keys), with the revisions they had then. */
  watchedUsers(deviceId: string): { ids: readonly string[]; revs: ReadonlyArray<string | undefined> } | undefined {
    const entry = this.devices.get(deviceId);
    return entry && { ids: entry.userIds, revs: entry.userRevs };
  }

  /**
   * The template input for a device. Not kept in the cache: at 100k devices it was most of the heap (~3 KB each),
   * and a big old generation means long GC pauses on the phone path. Rebuilt on the rare miss instead.
   */
  private contextFor(ref: DeviceRef, choice: Choice, origin: RequestOrigin): { context: Record<string, unknown>; users: Map<string, string | undefined> } {
    const { input, users } = buildInput(ref, this.getUser, choice, { server: this.env.server, origin, firmware: this.env.firmware });
    return { context: { ...input, vendor: choice.profile.id, v: choice.profile.variables(input) }, users };
  }

  /** The device's cache entry, valid for its current revisions; `context` is set when the entry was just rebuilt. */
  private entryFor(ref: DeviceRef, choice: Choice, origin: RequestOrigin): { entry: DeviceEntry; context?: Record<string, unknown> } {
    const { device, account } = ref;
    const cached = this.devices.get(device.id);
    const version = this.templateVersion;
    const originKey = `${origin.scheme}://${origin.host}`;
    if (
      cached &&
      cached.deviceRev === device._rev &&
      cached.accountRev === account._rev &&
      cached.version === version &&
      cached.origin === originKey &&
      cached.vendor === choice.profile.id &&
      cached.model === choice.model &&
      this.usersUnchanged(account.id, cached)
    ) {
      return { entry: cached };
    }
    const { context, users } = this.contextFor(ref, choice, origin);
    const entry: DeviceEntry = {
      deviceRev: device._rev,
      accountRev: account._rev,
      version,
      vendor: choice.profile.id,
      model: choice.model,
      origin: originKey,
      userIds: [...users.keys()],
      userRevs: [...users.values()],
      files: new Map(),
    };
    if (cached) this.devices.delete(device.id);
    else if (this.devices.size >= this.maxDevices) {
      // Oldest-inserted out: keeps the hit path free of LRU bookkeeping.
      const oldest = this.devices.keys().next().value;
      if (oldest !== undefined) this.devices.delete(oldest);
    }
    this.devices.set(device.id, entry);
    return { entry, context };
  }

  private usersUnchanged(accountId: string, entry: DeviceEntry): boolean {
    const { userIds, userRevs } = entry;
    for (let i = 0; i < userIds.length; i++) if (this.getUser(accountId, userIds[i]!)?._rev !== userRevs[i]) return false;
    return true;
  }

  /** A per-device file, from cache or freshly rendered and format-checked. Throws RenderError. */
  deviceFile(ref: DeviceRef, choice: Choice, file: VendorFile, name: string, origin: RequestOrigin = this.env.defaultOrigin): RenderedFile {
    if (file.scope === 'phonebook') return this.phonebookFile(choice.profile, file, name, ref.account, ref.device.id, choice.model);
    const { entry, context } = this.entryFor(ref, choice, origin);
    const hit = entry.files.get(name);
    if (hit) return hit;
    const rendered = this.render(choice.profile, file, name, context ?? this.contextFor(ref, choice, origin).context, ref.account.id, ref.device.id);
    entry.files.set(name, rendered);
    return rendered;
  }

  /** A shared file (no device, never secrets). The account, when known (from a MAC in the User-Agent), picks overrides. */
  sharedFile(profile: VendorProfile, file: VendorFile, name: string, model: string, account?: AccountDoc): RenderedFile {
    if (file.scope === 'phonebook') return this.phonebookFile(profile, file, name, account, undefined, model);
    const key = `${profile.id}|${name}|${account?.id ?? ''}|${account?._rev ?? ''}`;
    const hit = this.shared.get(key);
    const version = this.templateVersion;
    if (hit && hit.version === version) return hit;
    const info = resolveModel(profile, model, '');
    const fw = this.sharedFirmware(profile, info?.firmware, model);
    const context = {
      mac: '',
      model,
      modelInfo: info,
      vendor: profile.id,
      account: account ? { id: account.id, name: account.name, realm: account.realm } : undefined,
      // Relative to the directory the phone fetched this file from (no request origin in a shared file's key).
      firmware: fw ? { file: fw, url: fw } : undefined,
      v: profile.commonVariables?.(model) ?? {},
    };
    const rendered = this.render(profile, file, name, context, account?.id, undefined);
    if (this.shared.size > 10_000) this.shared.clear();
    this.shared.set(key, { ...rendered, version });
    return rendered;
  }

  /**
   * A phonebook file: the account's users (name, extension) as `directory`, and nothing secret (no sip, no
   * settings in its context). Without an account (no MAC in the User-Agent) the list is empty. Kept while no user
   * of the account changed (a stamp over their revisions: a phonebook fetch walks the account's users once).
   */
  private phonebookFile(profile: VendorProfile, file: VendorFile, name: string, account: AccountDoc | undefined, deviceId: string | undefined, model: string): RenderedFile {
    const users = account && this.env.listUsers ? this.env.listUsers(account.id).slice(0, MAX_DIRECTORY) : [];
    const stamp = createHash('sha1');
    for (const u of users) stamp.update(u.id).update(u._rev);
    const key = `${profile.id}|${name}|${account?.id ?? ''}|${account?._rev ?? ''}|${deviceId ?? ''}|${this.templateVersion}|${stamp.digest('hex')}`;
    const hit = this.phonebooks.get(key);
    if (hit) return hit;
    const directory: DirectoryEntry[] = users
      .map((u) => ({
        name: clean([u.first_name, u.last_name].filter(Boolean).join(' ') || u.username, 64),
        number: clean(String(u.presence_id ?? '').split('@')[0], 32),
      }))
      .filter((e) => e.name && e.number)
      .sort((a, b) => a.name.localeCompare(b.name));
    const context = {
      mac: '',
      model,
      modelInfo: resolveModel(profile, model, ''),
      vendor: profile.id,
      account: account ? { id: account.id, name: clean(account.name), realm: clean(account.realm) } : undefined,
      directory,
      v: profile.commonVariables?.(model) ?? {},
    };
    const rendered = this.render(profile, file, name, context, account?.id, deviceId);
    if (this.phonebooks.size >= 10_000) this.phonebooks.clear();
    this.phonebooks.set(key, rendered);
    return rendered;
  }

  /**
   * The firmware a shared file names: its model's, when the file is there. A file for every model (no model, e.g.
   * Polycom's default master) names the vendor's firmware only when exactly one of the names its catalogue and
   * families use is present — never a guess between two images.
   */
  private sharedFirmware(profile: VendorProfile, own: string | undefined, model: string): string | undefined {
    const store = this.env.firmware;
    if (!store) return undefined;
    if (model) return own && store.has(own) ? own : undefined;
    const names = new Set<string>();
    for (const m of [...(profile.catalogue ?? []), ...Object.values(profile.families ?? {})]) if (m.firmware && store.has(m.firmware)) names.add(m.firmware);
    return names.size === 1 ? [...names][0] : undefined;
  }

  private render(
    profile: VendorProfile,
    file: VendorFile,
    name: string,
    context: unknown,
    accountId: string | undefined,
    deviceId: string | undefined,
  ): RenderedFile {
    this.renderCount++;
    const tpl = this.templates.resolve(profile.id, file.template, accountId, deviceId);
    let text: string;
    try {
      text = tpl.fn(context);
      checkFormat(file.format, text, file.header);
    } catch (err) {
      const line = err instanceof TemplateError || err instanceof FormatError ? err.line : undefined;
      throw new RenderError((err as Error).message, `${profile.id}/${file.template}`, tpl.layer, line);
    }
    const body = Buffer.from(text, 'utf8');
    return {
      name,
      body,
      // Per-device files carry SIP credentials: no cache anywhere may keep them.
      headers: ['Content-Type', file.contentType, 'Content-Length', String(body.length), 'Cache-Control', file.perDevice ? 'no-store' : 'no-cache'],
      contentType: file.contentType,
      perDevice: file.perDevice,
      template: file.template,
      layer: tpl.layer,
    };
  }

  /** Every file this device's phone fetches, in fetch order (shared ones included: a change there matters too). */
  allFiles(ref: DeviceRef, choice: Choice, origin: RequestOrigin = this.env.defaultOrigin): RenderedFile[] {
    const out: RenderedFile[] = [];
    const mac = ref.device.mac_address ?? '';
    const model = resolveModel(choice.profile, choice.model, choice.family);
    for (const file of choice.profile.files) {
      if (file.upload || !fetchesFile(file, model)) continue;
      const name = file.nameFor({ mac, model: choice.model });
      if (!name) continue;
      if (file.perDevice) out.push(this.deviceFile(ref, choice, file, name, origin));
      else {
        const common = file.pattern.exec(name)?.groups?.common;
        const accepted = common !== undefined ? file.acceptCommon?.(common) : undefined;
        if (accepted) out.push(this.sharedFile(choice.profile, file, name, accepted.model, ref.account));
      }
    }
    return out;
  }
}

export function digestFiles(files: RenderedFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.name).update('\0').update(f.body).update('\0');
  return h.digest('hex');
}
