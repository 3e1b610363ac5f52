import type { Directory } from '../store/directory.js';
import type { CacheSlot } from './file-cache.js';
import type { FetchLog, FetchRecord } from './fetch-log.js';
import type { FingerprintInputs } from './file-fingerprint.js';
import { authSettings } from './http-auth.js';
import type { ProbeGuard } from './probe-guard.js';
import { fileKey, type DeviceFile, type Renderer } from './renderer.js';
import type { Choice, VendorSelector } from './select.js';
import type { RequestOrigin } from './settings.js';
import { accountUrlKey } from './url-key.js';

/** What a ticket reads: the documents, the renderer's copies and fingerprints, the ban list and the fetch log. */
export interface TicketDeps {
  directory: Directory;
  selector: VendorSelector;
  renderer: Renderer;
  guard: ProbeGuard;
  fetchLog: FetchLog;
  /** The origin a request's files are rendered for, from its Host header. */
  originOf: (host: string | undefined) => RequestOrigin;
}

/**
 * A kept answer as written to disk (kept-answers-file.ts), so that it outlives a restart: which device file it
 * answered, for which request (User-Agent, Host, keyed URL or not) and the fingerprint it was valid for. Nothing
 * secret: no body, no password, and not the account's URL key (only whether the URL carried it).
 */
export interface TicketRecord {
  accountId: string;
  deviceId: string;
  vendor: string;
  model: string;
  family: string;
  template: string;
  /** The file name as the decision matched it (lowercase). */
  name: string;
  fp: string;
  userIds: string[];
  userAgent: string;
  uaModel?: string;
  host?: string;
  /** The URL carried the account's URL key (/provision/<url_key>/<name>). */
  keyed: boolean;
}

/** The file a ticket names: its key in the renderer and what it was rendered for. */
export type TicketFile = Pick<DeviceFile, 'key' | 'fp' | 'name' | 'userIds'>;

/**
 * What a kept device file's answer needs to be re-checked by the one validity rule: the device and account it is
 * for, the file's vendor entry, the request's User-Agent and origin (which, with the device document, decide the
 * vendor, model and defaults). `replay` looks the documents up again and compares the file's fingerprint inputs
 * with the current ones (file-fingerprint.ts); nothing is trusted for being the same object. A ban, another
 * User-Agent or origin, or any changed input: not replayable, the full decision runs.
 */
export class ReplayTicket {
  /** The renderer's key of the file answered (`<deviceId>/<name>`). */
  readonly fileKey: string;
  /** The fingerprint validated; once the file is found, the file's own string (compared by identity from then on). */
  private fp: string;
  private readonly name: string;
  private readonly userIds: readonly string[];
  /** The origin the file was rendered for ('' when files do not depend on it): another Host may render other defaults. */
  private readonly originKey: string;
  /** The change count (FileFingerprints.changes) at which this answer was last found current. */
  private checkedAt: number | undefined;
  /**
   * Where the renderer holds the file, and the device's last-fetch entry, once found: a replay then looks neither
   * up (at 100k phones the Map lookups were a fifth of a replay's CPU). Neither pins anything: the slot lets go of
   * the file when the renderer drops it, and a forgotten entry no longer takes touches (fetch-log.ts).
   */
  private slot: CacheSlot<DeviceFile> | undefined;
  private fetchEntry: Readonly<FetchRecord> | undefined;

  constructor(
    private readonly deps: TicketDeps,
    private readonly accountId: string,
    private readonly deviceId: string,
    private readonly choice: Choice,
    private readonly template: string,
    file: TicketFile,
    /** The fingerprint's inputs when the file was found current for this request (file-fingerprint.ts). */
    private readonly inputs: FingerprintInputs,
    readonly userAgent: string,
    private readonly uaModel: string | undefined,
    /** The Host last answered: a request with the same one needs no origin check. */
    private host: string | undefined,
    private readonly keyed: boolean,
  ) {
    // Only what names the file: its bytes stay the renderer's (one copy, under the renderer's memory bound).
    this.fileKey = file.key;
    this.fp = file.fp;
    this.name = file.name;
    this.userIds = file.userIds;
    this.originKey = deps.renderer.fingerprints.originKey(deps.originOf(host));
    this.checkedAt = deps.renderer.fingerprints.changes(choice.profile.id);
  }

  /**
   * The renderer's copy of the file this answer validated: in memory, else read from the files kept on disk (an
   * answer restored after a restart); undefined once neither holds that version.
   */
  file(): DeviceFile | undefined {
    const held = this.slot?.file;
    if (held !== undefined) return held.fp === this.fp ? held : undefined;
    const { renderer } = this.deps;
    const found = renderer.copyOf(this.fileKey, this.fp);
    // Taken after copyOf: a file read from disk may be held in memory from this read on.
    this.slot = renderer.slotOf(this.fileKey);
    // The same text, and from now on the same string: the check above is then a pointer comparison, where two
    // strings read apart (a restored answer, a file read back) cost a visit to both strings' characters per fetch.
    if (found !== undefined) this.fp = found.fp;
    return found;
  }

  /** True when the kept reply is still exactly right for this request; the fetch is then recorded as served. */
  replay(userAgent: string, address: string, host?: string): boolean {
    const { directory, guard, renderer, fetchLog } = this.deps;
    if (userAgent !== this.userAgent || guard.isBanned(address)) return false;
    if (host !== this.host) {
      // Another Host with the same origin for the files (a fixed base URL, or the server on another port).
      if (renderer.fingerprints.originKey(this.deps.originOf(host)) !== this.originKey) return false;
      this.host = host;
    }
    // Nothing an answer depends on changed since it was last found current (no document anywhere, no layer of this
    // vendor's templates, no firmware): no document is looked up. Otherwise the inputs are compared one by one (a
    // disabled device or account changes its revision; so do its URL key and HTTP auth settings), and the answer
    // is current again from this count on.
    const changes = renderer.fingerprints.changes(this.choice.profile.id);
    if (changes === undefined || changes !== this.checkedAt) {
      const account = directory.getAccount(this.accountId);
      const device = account && directory.getDevice(this.accountId, this.deviceId);
      if (!account || !device) return false;
      if (!renderer.fingerprints.unchanged({ account, device }, this.choice.profile.id, this.template, this.userIds, this.inputs)) return false;
      this.checkedAt = changes;
    }
    renderer.servedAgain();
    if (this.fetchEntry === undefined || !fetchLog.touchEntry(this.fetchEntry, Date.now(), address, userAgent, this.name)) {
      noteFetch(fetchLog, this.accountId, this.deviceId, address, userAgent, this.name, this.choice.profile.id, this.uaModel);
      this.fetchEntry = fetchLog.peek(this.deviceId);
    }
    return true;
  }

  /** This answer as it is written to disk. */
  record(): TicketRecord {
    const { profile, model, family } = this.choice;
    return {
      accountId: this.accountId, deviceId: this.deviceId, vendor: profile.id, model, family, template: this.template, name: this.name,
      fp: this.fp, userIds: [...this.userIds], userAgent: this.userAgent, uaModel: this.uaModel, host: this.host, keyed: this.keyed,
    };
  }
}

/**
 * A kept answer read back after a restart, when it is still exactly right: its device and account are there and
 * enabled, fetched without HTTP auth and with the URL key the account has now, its file's fingerprint computed
 * afresh (this build, these documents, templates and firmware) is the one recorded, and that version of the file is
 * still kept. Returns the front door's key (the URL path it answers) with the ticket; undefined otherwise (the
 * phone's next fetch is then decided in full, as any first fetch).
 */
export function restoreTicket(deps: TicketDeps, r: TicketRecord): { key: string; ticket: ReplayTicket } | undefined {
  const { directory, selector, renderer } = deps;
  const account = directory.getAccount(r.accountId);
  const device = account && directory.getDevice(r.accountId, r.deviceId);
  if (!account || !device || account.enabled === false || device.enabled === false || authSettings(account)) return undefined;
  const urlKey = accountUrlKey(account);
  const profile = selector.byId(r.vendor);
  if (r.keyed !== (urlKey !== undefined) || !profile) return undefined;
  const ref = { account, device };
  const { fingerprints } = renderer;
  if (renderer.keptMeta(device.id, r.name)?.fp !== r.fp) return undefined;
  const inputs = fingerprints.inputs(ref, r.vendor, r.template, r.userIds);
  const originKey = fingerprints.originKey(deps.originOf(r.host));
  if (!inputs || fingerprints.ofInputs(ref, r.vendor, r.model, r.template, originKey, r.userIds, inputs) !== r.fp) return undefined;
  const file = { key: fileKey(device.id, r.name), fp: r.fp, name: r.name, userIds: r.userIds };
  const choice = { profile, model: r.model, family: r.family };
  const ticket = new ReplayTicket(deps, account.id, device.id, choice, r.template, file, inputs, r.userAgent, r.uaModel, r.host, r.keyed);
  return { key: `/provision/${urlKey !== undefined ? `${urlKey}/` : ''}${r.name}`, ticket };
}

/**
 * Records a served device file in the last-fetch log (in place when only the time moved). Telemetry only: it is
 * shown by the API and decides nothing about what a phone is served.
 */
export function noteFetch(fetchLog: FetchLog, accountId: string, deviceId: string, address: string, userAgent: string, file: string, vendor: string, model: string | undefined): void {
  const time = Date.now();
  // Same rule as record(): only address, User-Agent, file and age decide whether the entry must be persisted.
  const touched = fetchLog.touch(deviceId, time, address, userAgent, file);
  if (touched) return;
  fetchLog.record(accountId, deviceId, { time, address, user_agent: userAgent, file, vendor, model });
}
