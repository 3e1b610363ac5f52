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
import { FileCache, type CacheSlot } from './file-cache.js';
import { FileFingerprints } from './file-fingerprint.js';
import type { KeptFiles, KeptMeta, KeptWire } from './kept-files.js';
import { renderCodeStamp } from './render-stamp.js';
import { buildWire, DEFAULT_KEEP_ALIVE, type Wire, type Wired } from './wire.js';

/**
 * Renders files and keeps them. A per-device file is valid exactly while its fingerprint (file-fingerprint.ts: the
 * revisions, template layer stamp, vendor/model, origin and firmware it was made from) is unchanged; that value is
 * the only rule, for the memory cache, the files kept on disk and the front door's kept answers alike.
 * A fetch looks in memory (one copy of each body, bounded in bytes), then on disk (kept-files.ts), and renders as
 * the last resort; `freshen` is the background job's way in (prerender.ts), so files are usually rendered when
 * their inputs change, not when a phone asks.
 */
export interface RenderedFile extends Wired {
  name: string;
  contentType: string;
  perDevice: boolean;
  template: string;
  layer: LayerName;
}

/** A per-device file with the record of what it was made from (what is kept on disk with it). */
export interface DeviceFile extends RenderedFile, KeptMeta {
  key: string;
  /** Read back after a start (readBack) and not served since (diagnostics: keptServed). */
  warmed: boolean;
}

/**
 * Every device file is made here, with one field order and every field present: the front door reads `wire` and `fp`
 * of whichever file a kept answer names, rendered now or read back, and objects of one hidden class keep those reads
 * monomorphic (a spread for rendered files, a literal for kept ones and `warmed` added later made three).
 */
function deviceFileOf(file: RenderedFile, key: string, meta: Pick<KeptMeta, 'fp' | 'at' | 'userIds' | 'vendor' | 'model' | 'origin'>): DeviceFile {
  const { name, status, headers, wire, body, contentType, perDevice, template, layer } = file;
  const { fp, at, userIds, vendor, model, origin } = meta;
  return { name, status, headers, wire, body, contentType, perDevice, template, layer, key, fp, at, userIds, vendor, model, origin, warmed: false };
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

/** What the renderer needs besides templates and users: server defaults, firmware, the account's user list. */
export interface RenderEnv {
  server: ServerDefaults;
  /** Origin for renders outside a phone request (API preview, sync fingerprint, background renders). */
  defaultOrigin: RequestOrigin;
  firmware?: FirmwareStore;
  listUsers?: (accountId: string) => UserDoc[];
  /** The directory's change count (Directory.changes), when it keeps one. */
  documentChanges?: () => number | undefined;
}

export interface RendererOptions {
  /** Bytes the in-memory files may hold in all (default 1 GiB). */
  cacheBytes?: number;
  /** Files kept on disk across restarts; without it only memory is used. */
  kept?: KeptFiles;
  /** The rendering code's stamp (default renderCodeStamp()). */
  codeStamp?: string;
}

const OFFLINE_RENDER_ENV: RenderEnv = { server: OFFLINE_ENV.server, defaultOrigin: OFFLINE_ENV.origin };
const MAX_DIRECTORY = 5000;

/** A served file's headers (besides Date and Connection, which the transports add). */
function fileHeaders(contentType: string, perDevice: boolean, length: number): string[] {
  // Per-device files carry SIP credentials: no cache anywhere may keep them.
  return ['Content-Type', contentType, 'Content-Length', String(length), 'Cache-Control', perDevice ? 'no-store' : 'no-cache'];
}

/** The memory and disk key of a device's file. */
export const fileKey = (deviceId: string, name: string): string => `${deviceId}/${name}`;

/** The file name back from such a key. */
const nameOfKey = (key: string): string => key.slice(key.indexOf('/') + 1);

export type Freshened = 'valid' | 'rendered';

export class Renderer {
  readonly fingerprints: FileFingerprints;
  private readonly memory: FileCache<DeviceFile>;
  private readonly kept: KeptFiles | undefined;
  private readonly shared = new Map<string, RenderedFile & { stamp: string }>();
  private readonly phonebooks = new Map<string, RenderedFile>();
  private renderCount = 0;
  private keptCount = 0;
  private askedCount = 0;
  private lastAt = 0;
  /** Files kept with an earlier `at` were rendered by an earlier run of the server (see fromDisk). */
  private readonly startedAt = Date.now();
  private closed = false;
  /**
   * The Connection/Keep-Alive lines files are built with: the front door's (it says so when attached), so that
   * each file's wire is built once, right, instead of rebuilt on its first write.
   */
  keepAlive = DEFAULT_KEEP_ALIVE;

  constructor(
    private readonly templates: TemplateStore,
    private readonly getUser: UserLookup,
    private readonly env: RenderEnv = OFFLINE_RENDER_ENV,
    options: RendererOptions = {},
  ) {
    this.memory = new FileCache(options.cacheBytes ?? 1024 * 1024 * 1024);
    this.kept = options.kept;
    this.fingerprints = new FileFingerprints({ templates, getUser, server: env.server, firmware: env.firmware, codeStamp: options.codeStamp ?? renderCodeStamp(), documentChanges: env.documentChanges });
  }

  /** Drops a device's files (on delete): `names` are the file names it may have had. */
  forget(deviceId: string, names: readonly string[]): void {
    for (const name of names) {
      const key = fileKey(deviceId, name);
      this.memory.delete(key);
      this.kept?.remove(key);
    }
  }

  /** Files in memory and the bytes they hold (bench, diagnostics). */
  memoryStats(): { files: number; bytes: number } {
    return { files: this.memory.size, bytes: this.memory.bytes };
  }

  /** Templates run so far: a cache hit runs none (tests, diagnostics). */
  get renders(): number {
    return this.renderCount;
  }

  /** Per-device files asked for so far (phones, API, SIP): the background job slows down while this moves. */
  get asked(): number {
    return this.askedCount;
  }

  /** A phone was answered again with a copy held here (a front-door replay): phones are fetching. */
  servedAgain(): void {
    this.askedCount++;
  }

  /** Per-device files served from the disk copy (tests, diagnostics). */
  get keptServed(): number {
    return this.keptCount;
  }

  /** What the kept copy of a device's file (memory, else disk) was rendered for, without reading its body. */
  keptMeta(deviceId: string, name: string): KeptMeta | undefined {
    const key = fileKey(deviceId, name);
    return this.memory.get(key) ?? this.kept?.meta(key);
  }

  /** The origin a kept file was rendered for, back as a request origin. */
  originOf(originKey: string): RequestOrigin {
    const m = /^(https?):\/\/(.+)$/.exec(originKey);
    return m ? { scheme: m[1] as RequestOrigin['scheme'], host: m[2]! } : this.env.defaultOrigin;
  }

  /**
   * The template input for a device. Not kept: at 100k devices it was most of the heap (~3 KB each), and a big old
   * generation means long GC pauses on the phone path. Rebuilt on the rare render instead.
   */
  private contextFor(ref: DeviceRef, choice: Choice, origin: RequestOrigin): { context: Record<string, unknown>; users: Map<string, string | undefined> } {
    const { input, users } = buildInput(ref, this.getUser, choice, { server: this.env.server, origin, firmware: this.env.firmware });
    return { context: { ...input, vendor: choice.profile.id, v: choice.profile.variables(input) }, users };
  }

  private isCurrent(ref: DeviceRef, choice: Choice, file: VendorFile, originKey: string, kept: KeptMeta): boolean {
    return kept.vendor === choice.profile.id && kept.model === choice.model && kept.origin === originKey &&
      kept.fp === this.fingerprints.of(ref, choice.profile.id, choice.model, file.template, originKey, kept.userIds);
  }

  /**
   * A per-device file: from memory, else from disk, when its fingerprint matches; else rendered and format-checked
   * now (and kept). Throws RenderError.
   */
  deviceFile(ref: DeviceRef, choice: Choice, file: VendorFile, name: string, origin: RequestOrigin = this.env.defaultOrigin): RenderedFile {
    if (file.scope === 'phonebook') return this.phonebookFile(choice.profile, file, name, ref.account, ref.device.id, choice.model);
    this.askedCount++;
    const key = fileKey(ref.device.id, name);
    const originKey = this.fingerprints.originKey(origin);
    const hit = this.memory.get(key);
    if (hit && this.isCurrent(ref, choice, file, originKey, hit)) {
      if (hit.warmed) {
        // Read from disk after the start (readBack): counted as served from the kept copy, once.
        hit.warmed = false;
        this.keptCount++;
      }
      return hit;
    }
    const fromDisk = this.fromDisk(ref, choice, file, name, key, originKey);
    if (fromDisk) return fromDisk;
    const rendered = this.renderDevice(ref, choice, file, name, key, origin, originKey);
    this.memory.set(key, rendered);
    this.kept?.put(key, rendered, rendered);
    return rendered;
  }

  /**
   * The background job's step for one file: nothing when what is kept (memory or disk) is still valid, else
   * render and check it now and keep it (memory only where it was already held: a walk over every device must not
   * push the phones' recent files out). Throws RenderError (the kept copy is then left as it was: its fingerprint
   * no longer matches, so it is not served).
   */
  freshen(ref: DeviceRef, choice: Choice, file: VendorFile, name: string, origin: RequestOrigin = this.env.defaultOrigin): Freshened {
    if (file.scope === 'phonebook' || !file.perDevice) return 'valid';
    const key = fileKey(ref.device.id, name);
    const originKey = this.fingerprints.originKey(origin);
    const inMemory = this.memory.get(key);
    const kept = inMemory ?? this.kept?.meta(key);
    if (kept && this.isCurrent(ref, choice, file, originKey, kept)) return 'valid';
    const rendered = this.renderDevice(ref, choice, file, name, key, origin, originKey);
    if (inMemory) this.memory.set(key, rendered);
    this.kept?.put(key, rendered, rendered);
    return 'rendered';
  }

  /**
   * The version `fp` of a device's file, from memory or else from disk, with no decision made: for a front-door
   * answer that validated this version (kept across a restart, its body not read yet). Undefined when neither holds it.
   */
  copyOf(key: string, fp: string): DeviceFile | undefined {
    const hit = this.memory.get(key);
    if (hit !== undefined) return hit.fp === fp ? hit : undefined;
    const meta = this.kept?.meta(key);
    return meta !== undefined && meta.fp === fp ? this.readKept(key, nameOfKey(key), meta) : undefined;
  }

  /** Where memory holds a device's file now, for a holder that serves it again and again (file-cache.ts CacheSlot). */
  slotOf(key: string): CacheSlot<DeviceFile> | undefined {
    return this.memory.slot(key);
  }

  private fromDisk(ref: DeviceRef, choice: Choice, file: VendorFile, name: string, key: string, originKey: string): DeviceFile | undefined {
    const meta = this.kept?.meta(key);
    if (!meta || !this.isCurrent(ref, choice, file, originKey, meta)) return undefined;
    return this.readKept(key, name, meta);
  }

  private readKept(key: string, name: string, meta: KeptMeta): DeviceFile | undefined {
    const wire = this.kept!.wire(key, meta);
    if (!wire) return undefined;
    this.keptCount++;
    const served = this.keptFile(key, name, meta, wire);
    // A file kept by an earlier run (a restart: the boot storm) is held in memory from its second read on: in a
    // storm every phone reads its file once, and holding all of them (hundreds of MB at 100k phones) grew the heap
    // through the storm, its full collections sharing the phones' core. One rendered by this run (ahead of the
    // phone, after a change) is held at once: its phone is about to fetch it, and again.
    if (meta.at >= this.startedAt || this.kept!.readBefore(meta)) this.memory.set(key, served);
    return served;
  }

  /** A kept answer back as a device file: its bytes as read (the body a view of them), the record's own fields. */
  private keptFile(key: string, name: string, meta: KeptMeta, kept: KeptWire): DeviceFile {
    const { contentType, perDevice, template, layer } = meta;
    let wire: Wire = { bytes: kept.bytes, dateAt: kept.dateAt, bodyAt: kept.bodyAt, keepAlive: kept.keepAlive, second: -1 };
    let body = kept.bytes.subarray(kept.bodyAt);
    const headers = fileHeaders(contentType, perDevice, body.length);
    // Kept by a run whose front door answered with another keep-alive timeout: rebuilt once, here, so the copy in
    // memory is the one written (and counted) from now on.
    if (wire.keepAlive !== this.keepAlive) {
      wire = buildWire(200, headers, body, this.keepAlive);
      body = wire.bytes.subarray(wire.bodyAt);
    }
    return deviceFileOf({ name, status: 200, headers, wire, body, contentType, perDevice, template, layer }, key, meta);
  }

  /**
   * After a start, before the port opens: the kept files phones asked for last (those the restored front-door
   * answers name, `first`) read back into memory in bulk, one read per bucket, as far as the memory bound allows.
   * Nothing else runs yet, so it goes at full speed; the first fetch of each phone is then a replay from memory.
   * Read one by one under the storm instead, each phone's own read and decryption (the bulk read saves the first,
   * not the second) cost ~3x a replay: at 10k phones the cold walk ran at a third of its warm pace.
   * Each file is still checked against its fingerprint when a phone asks for it. All of them, within the memory
   * bound: at 100k phones 2.6-3.2 s (the check of every device's files no longer runs beside it). Read in part (2 s,
   * 61k of 100k), the storm's second walk read the rest from disk and held them from that read on: the heap grew
   * under the phones and its full collections (external memory pressure, every 64 MB) took its p99 to 80-180 ms,
   * against 8-14 ms with all read back. `budgetMs` (default 10 s) only bounds a slow disk. Kept files no answer
   * names (no phone fetched them in the last run) and what the bounds leave stay on disk until a phone asks: read
   * in idle time, as before, they grew the heap between two walks of a storm and its collections met the next.
   */
  async readBack(first: ReadonlySet<string>, budgetMs = 10_000, now: () => number = performance.now.bind(performance)): Promise<number> {
    if (first.size === 0 || !this.kept || this.closed) return 0;
    const until = now() + budgetMs;
    let loaded = 0;
    const take = (key: string, meta: KeptMeta, wire: KeptWire): boolean => {
      if (now() >= until || this.memory.bytes + wire.bytes.length + 1024 > this.memory.maxBytes) return false;
      if (!this.memory.get(key)) {
        const file = this.keptFile(key, nameOfKey(key), meta, wire);
        file.warmed = true;
        this.memory.set(key, file);
        loaded++;
      }
      return !this.closed;
    };
    await this.kept.readNamed(first, take);
    return loaded;
  }

  /** Stops a read-back in progress (close). */
  close(): void {
    this.closed = true;
  }

  private renderDevice(ref: DeviceRef, choice: Choice, file: VendorFile, name: string, key: string, origin: RequestOrigin, originKey: string): DeviceFile {
    const { context, users } = this.contextFor(ref, choice, origin);
    const userIds = [...users.keys()];
    const rendered = this.render(choice.profile, file, name, context, ref.account.id, ref.device.id);
    const fp = this.fingerprints.of(ref, choice.profile.id, choice.model, file.template, originKey, userIds)!;
    this.lastAt = Math.max(Date.now(), this.lastAt + 1);
    return deviceFileOf(rendered, key, { fp, at: this.lastAt, userIds, vendor: choice.profile.id, model: choice.model, origin: originKey });
  }

  /** A shared file (no device, never secrets). The account, when known (from a MAC in the User-Agent), picks overrides. */
  sharedFile(profile: VendorProfile, file: VendorFile, name: string, model: string, account?: AccountDoc): RenderedFile {
    if (file.scope === 'phonebook') return this.phonebookFile(profile, file, name, account, undefined, model);
    const key = `${profile.id}|${name}|${account?.id ?? ''}|${account?._rev ?? ''}`;
    const hit = this.shared.get(key);
    // Valid while the layer it used and the firmware present are the same (no global template version).
    const stamp = `${this.templates.stamp(profile.id, file.template, account?.id)}|${this.firmwareStamp()}`;
    if (hit && hit.stamp === stamp) return hit;
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
    const kept = { ...rendered, stamp };
    this.shared.set(key, kept);
    return kept;
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
    const layer = this.templates.stamp(profile.id, file.template, account?.id, deviceId);
    const key = `${profile.id}|${name}|${account?.id ?? ''}|${account?._rev ?? ''}|${deviceId ?? ''}|${layer}|${stamp.digest('hex')}`;
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
  private firmwareStamp(): string {
    this.env.firmware?.refresh();
    return this.env.firmware?.stamp ?? '';
  }

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
    return this.wired(name, file, Buffer.from(text, 'utf8'), tpl.layer);
  }

  /** A file's answer around its body: headers and wire built once, the body then a view of the wire. */
  private wired(name: string, file: Pick<VendorFile, 'contentType' | 'perDevice' | 'template'>, body: Buffer, layer: LayerName): RenderedFile {
    const headers = fileHeaders(file.contentType, file.perDevice, body.length);
    const wire = buildWire(200, headers, body, this.keepAlive);
    return {
      name,
      status: 200,
      headers,
      wire,
      body: wire.bytes.subarray(wire.bodyAt),
      contentType: file.contentType,
      perDevice: file.perDevice,
      template: file.template,
      layer,
    };
  }

  /**
   * Every file this device's phone fetches, in fetch order (shared ones included: a change there matters too).
   * `origin`: the request's; by default each per-device file's own kept origin (so an API or SIP look does not
   * replace what the phone was served with a file for another Host), else the default.
   */
  allFiles(ref: DeviceRef, choice: Choice, origin?: RequestOrigin): RenderedFile[] {
    const out: RenderedFile[] = [];
    // `unplaced`: a phone whose model is not known yet (none on the device, none said yet) is still served the
    // first file of a shared name (its <mac>.cfg); without it here a change of that file would never re-sync it.
    for (const { file, name } of fetchedFiles(choice, ref.device.mac_address ?? '', true)) {
      if (file.perDevice) {
        const kept = origin ? undefined : this.keptMeta(ref.device.id, name);
        out.push(this.deviceFile(ref, choice, file, name, origin ?? (kept ? this.originOf(kept.origin) : this.env.defaultOrigin)));
      } else {
        const common = file.pattern.exec(name)?.groups?.common;
        const accepted = common !== undefined ? file.acceptCommon?.(common) : undefined;
        if (accepted) out.push(this.sharedFile(choice.profile, file, name, accepted.model, ref.account));
      }
    }
    return out;
  }
}

/**
 * The files (and their names) a device's phone fetches for this choice, in fetch order; uploads excluded.
 * `unplaced`: for a model the catalogue cannot place, also the file the phone path serves under a name that several
 * of the vendor's files share (the first of them, phone-handler.ts) — what the background job must render ahead.
 */
export function fetchedFiles(choice: Choice, mac: string, unplaced = false): Array<{ file: VendorFile; name: string }> {
  const model = resolveModel(choice.profile, choice.model, choice.family);
  const out: Array<{ file: VendorFile; name: string }> = [];
  const named = new Set<string>();
  for (const file of choice.profile.files) {
    if (file.upload) continue;
    const name = file.nameFor({ mac, model: choice.model });
    if (!name) continue;
    if (fetchesFile(file, model) || (unplaced && !model && !named.has(name) && !choice.profile.files.some((f) => f !== file && !f.upload && fetchesFile(f, model) && f.nameFor({ mac, model: choice.model }) === name))) {
      named.add(name);
      out.push({ file, name });
    }
  }
  return out;
}

export function digestFiles(files: RenderedFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.name).update('\0').update(f.body).update('\0');
  return h.digest('hex');
}
