import type { Config } from '../config.js';
import type { DomainEvents } from '../domain/events.js';
import type { Logger } from '../log.js';
import type { Directory } from '../store/directory.js';
import { vendorProfiles } from '../../vendors/index.js';
import type { VendorProfile } from '../../vendors/types.js';
import { ClientAddress } from '../http/client-address.js';
import { createTemplatesRouter } from './templates-router.js';
import { DeviceFiles } from './device-files.js';
import { genericCheckSyncEvent } from '../devices/check-sync.js';
import { FetchLog } from './fetch-log.js';
import { HttpAuth } from './http-auth.js';
import { attachPhoneFrontDoor, type FrontDoor } from './front-door.js';
import { createPhoneDecider, createPhoneHandler, firmwareName } from './phone-handler.js';
import { banFilePath } from './ban-file.js';
import { ProbeGuard } from './probe-guard.js';
import { digestFiles, Renderer } from './renderer.js';
import { FirmwareStore } from './firmware.js';
import { UploadStore } from './uploads.js';
import type { OverrideStorage, UploadStorage } from './shared-files.js';
import { fetchesFile, resolveModel } from './catalogue.js';
import { type RequestOrigin, type ServerDefaults } from './settings.js';
import { VendorSelector } from './select.js';
import type { ProvisioningService } from './service.js';
import { watchBuiltinTemplates } from './template-watch.js';
import { BUILTIN_TEMPLATES, TemplateStore } from './templates.js';
import path from 'node:path';
import type { DeviceRef } from '../domain/types.js';
import { readOrCreateKey } from '../store/key-file.js';
import { servedChoice } from './device-choice.js';
import { KeptFiles } from './kept-files.js';
import { KeptAnswersFile } from './kept-answers-file.js';
import { restoreTicket, type ReplayTicket } from './replay-ticket.js';
import { Prerender } from './prerender.js';
import { REHEARSAL_REQUESTS, rehearse } from './rehearsal.js';

export type { ProvisioningService } from './service.js';

export interface ProvisioningDeps {
  config: Config;
  log: Logger;
  directory: Directory;
  events: DomainEvents;
  /** The last-fetch log to use (a cluster's, in PostgreSQL); default the one in files under DATA_DIR. */
  fetchLog?: FetchLog;
  /** Where template overrides and phone uploads are kept for every node (a cluster's); default under DATA_DIR. */
  shared?: { templates: OverrideStorage; uploads: UploadStorage };
  /** True while API requests are in flight: the background check after a start waits for them. */
  apiBusy?: () => boolean;
  /** Optional knobs (tests, bench). */
  options?: {
    templatesDir?: string;
    profiles?: readonly VendorProfile[];
    /** Bytes of rendered files held in memory (default PROVISION_KEPT_BYTES). */
    cacheBytes?: number;
    /** Quiet time before rendered files are written to disk (default 500 ms; tests flush by hand). */
    keptDelayMs?: number;
    /** How often the front door's kept answers are saved while they change (default 60 s). */
    answersSaveMs?: number;
    /** Stamp of the rendering code (default: a hash of its sources); tests fix it to play an upgrade. */
    codeStamp?: string;
    /** Read kept files back into memory after a start, and rehearse the phone path (default true; tests switch it off). */
    readBack?: boolean;
    /** Time the read-back before the port opens may take (default 2000 ms); the rest is read in idle time. */
    readBackMs?: number;
    /** Background renders per slice (default 8) and file checks per slice (default 200). */
    prerenderSlice?: { renders?: number; checks?: number };
    /** Clock for the probe guard (tests). */
    now?: () => number;
    fetchLogFlushMs?: number;
    /** Reload edited built-in templates live (default true). */
    watchTemplates?: boolean;
    templateDebounceMs?: number;
  };
}

export async function createProvisioning(deps: ProvisioningDeps): Promise<ProvisioningService> {
  const { config, log, directory, events, options = {} } = deps;
  const profiles = options.profiles ?? vendorProfiles;
  const selector = new VendorSelector(profiles);
  const templates = new TemplateStore(options.templatesDir ?? BUILTIN_TEMPLATES, config.dataDir, profiles, deps.shared?.templates);
  // Another node's override is live here: told as this node's own are (render ahead, re-sync the phones it owns).
  templates.onRemoteChange = (layer, vendor) => events.emit({ type: 'templates.changed', accountId: layer.accountId, deviceId: layer.deviceId, vendor });
  await templates.load();
  const watcher =
    options.watchTemplates === false
      ? undefined
      : watchBuiltinTemplates({ templates, profiles, events, log, debounceMs: options.templateDebounceMs });
  const firmware = new FirmwareStore(config.dataDir, options.now);
  const uploads = new UploadStore(config.dataDir, {
    maxBytes: config.provisioning.uploadBytes,
    maxFiles: config.provisioning.uploadFiles,
    maxDeviceBytes: config.provisioning.uploadDeviceBytes,
  }, deps.shared?.uploads);
  await uploads.start();
  const server: ServerDefaults = {
    sipPort: config.sip.port,
    registrarServes: config.sip.backend === 'embedded',
    publicAddress: config.sip.publicAddress,
    baseUrl: config.provisioning.baseUrl,
  };
  const scheme = config.tls ? 'https' : 'http';
  // A Host header only names a host (and port): anything else falls back to the configured address.
  const fallbackHost = `${config.sip.publicAddress ?? (config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host)}:${config.port}`;
  const originOf = (host: string | undefined): RequestOrigin => ({
    host: host && /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/.test(host) ? host : fallbackHost,
    scheme,
  });
  // PROVISION_PRERENDER: files rendered in the background and kept on disk across restarts (else at fetch, in memory).
  const ahead = config.provisioning.prerender;
  const kept = ahead
    ? KeptFiles.open(path.join(config.dataDir, 'rendered'), await readOrCreateKey(config.secretsKeyFile), log, { delayMs: options.keptDelayMs })
    : undefined;
  // The front door's kept answers outlive a restart beside the kept files (read now, checked before the door opens).
  const answersFile = kept && config.provisioning.fastPath ? new KeptAnswersFile(path.join(config.dataDir, 'rendered', 'answers.jsonl'), log, { saveMs: options.answersSaveMs }) : undefined;
  const restoring = (await answersFile?.load()) ?? [];
  const renderer = new Renderer(
    templates,
    (a, u) => directory.getUser(a, u),
    { server, defaultOrigin: originOf(undefined), firmware, listUsers: directory.listUsers ? (a) => directory.listUsers!(a) : undefined, documentChanges: () => directory.changes },
    { cacheBytes: options.cacheBytes ?? config.provisioning.keptBytes, kept, codeStamp: options.codeStamp },
  );
  if (kept) {
    // Phones are fetching when the renderer was asked for files since the kept files last looked.
    let askedAt = renderer.asked;
    kept.busy = () => {
      const asked = renderer.asked;
      const moved = asked !== askedAt;
      askedAt = asked;
      return moved;
    };
  }
  const fetchLog = deps.fetchLog ?? new FetchLog(config.dataDir, log, options.fetchLogFlushMs);
  await fetchLog.load((accountId, deviceId) => directory.getDevice(accountId, deviceId) !== undefined);
  const guard = new ProbeGuard({
    limit: config.provisioning.probeLimit,
    networkLimit: config.provisioning.networkProbeLimit,
    windowSeconds: config.provisioning.probeWindowSeconds,
    banSeconds: config.provisioning.banSeconds,
    now: options.now,
    file: banFilePath(config.dataDir),
    log,
  });
  await guard.load();
  const auth = new HttpAuth(options.now);

  const choiceOfRef = (ref: DeviceRef) => servedChoice(selector, renderer, ref);
  const prerender = ahead
    ? new Prerender({ directory, renderer, choiceOf: choiceOfRef, log, apiBusy: deps.apiBusy, sliceRenders: options.prerenderSlice?.renders, sliceChecks: options.prerenderSlice?.checks })
    : undefined;
  // Served files validate themselves by fingerprint; these events only render ahead of the phones and release
  // memory early.
  const unsubscribe = events.on((event) => {
    if (event.type === 'device.changed') {
      if (event.after) prerender?.device(event.accountId, event.deviceId);
      else {
        const mac = event.before?.mac_address;
        if (mac) renderer.forget(event.deviceId, profiles.flatMap((p) => p.files.map((f) => f.nameFor({ mac, model: '' })).filter((n): n is string => !!n)));
        fetchLog.forget(event.deviceId);
        uploads.forget(event.deviceId);
      }
    } else if (event.type === 'user.changed' || event.type === 'account.changed') prerender?.account(event.accountId);
    else if (event.type === 'templates.changed') {
      if (event.accountId) prerender?.account(event.accountId, { vendor: event.vendor, deviceId: event.deviceId });
      else prerender?.all({ vendor: event.vendor });
    }
  });
  // One decision, two transports: node:http (handlePhoneRequest) and the lean front door.
  const phoneDeps = { directory, selector, renderer, guard, auth, fetchLog, log, originOf, firmware, uploads };
  // The previous run's kept answers, checked now against this run's documents, templates and build; the front door
  // takes them when it is attached, before the first phone.
  let restored = restoring.map((record) => restoreTicket(phoneDeps, record)).filter((a) => a !== undefined);
  if (restoring.length > 0) log.info('provisioning: kept answers restored', { restored: restored.length, dropped: restoring.length - restored.length });
  restoring.length = 0;
  // Phones come back together after a power cut: the files their restored answers name are read back in bulk
  // before the port opens (readBack); other kept files are read at their phone's first fetch.
  const first = new Set(restored.map((a) => a.ticket.fileKey));
  // The newest answer handed to the front door, replayed to it before the port opens (rehearsal.ts), as many
  // times as answers were handed over.
  let rehearsal: { front: FrontDoor; answer: (typeof restored)[number]; requests: number } | undefined;
  const decidePhone = createPhoneDecider(phoneDeps);
  // TRUST_PROXY: bans and the last-fetch address use the real client behind a proxy, on both transports.
  const clientAddress = new ClientAddress(config.trustProxy);
  const handlePhoneRequest = createPhoneHandler(phoneDeps, decidePhone, clientAddress);
  let router: ReturnType<typeof createTemplatesRouter> | undefined;
  const deviceFiles = new DeviceFiles({ templates, renderer, choiceOf: choiceOfRef, originOf });
  let closing: Promise<void> | undefined;

  /**
   * One kept answer replayed to the front door, its fetches not logged (rehearsal.ts): as many times as answers were
   * restored (as many phones may come at once), up to the default that made a 10k cold walk keep its warm pace.
   */
  async function rehearseReplay(door: FrontDoor, answer: { key: string; ticket: ReplayTicket }, requests: number): Promise<void> {
    const bytes = answer.ticket.file()?.wire.bytes.length ?? 0;
    const { userAgent, host } = answer.ticket.record();
    const head = Buffer.from(`GET ${answer.key} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}${userAgent ? `User-Agent: ${userAgent}\r\n` : ''}\r\n`, 'latin1');
    const started = performance.now();
    fetchLog.muted = true;
    try {
      const answered = await rehearse(door, head, bytes, { requests });
      log.info('provisioning: phone path rehearsed', { requests: answered, ms: Math.round(performance.now() - started) });
    } catch (err) {
      log.warn('provisioning: phone path rehearsal failed', { err });
    } finally {
      fetchLog.muted = false;
    }
  }

  function refOf(accountId: string, deviceId: string) {
    const account = directory.getAccount(accountId);
    const device = account && directory.getDevice(accountId, deviceId);
    return account && device ? { account, device } : undefined;
  }
  function choiceOf(accountId: string, deviceId: string) {
    const ref = refOf(accountId, deviceId);
    if (!ref || !ref.device.mac_address) return undefined;
    const choice = choiceOfRef(ref);
    return choice && { ref, choice };
  }

  return {
    handlePhoneRequest,
    attachFrontDoor(server, frontOptions) {
      const front = attachPhoneFrontDoor(server, decidePhone, {
        clientAddress,
        // Firmware is streamed by node:http (a file, not a rendered answer).
        handsOff: (url) => firmwareName(url, selector, firmware) !== undefined,
        onKeepAlive: (lines) => (renderer.keepAlive = lines),
        ...frontOptions,
      });
      if (answersFile) {
        // Before the first phone: a phone's first fetch after a restart is then a replay of what it was last served.
        for (const answer of restored) front.restore(answer.key, answer.ticket);
        const newest = restored.at(-1);
        if (newest) rehearsal = { front, answer: newest, requests: Math.min(restored.length, REHEARSAL_REQUESTS) };
        restored = [];
        answersFile.start(front);
      }
      return front;
    },
    async readBack() {
      // Then, whatever is missing or stale on disk (first start, an upgrade, a template edited while down), while
      // phones are not fetching. Not before: run beside the read back, its checks took a third of it (100k phones:
      // 1.1 of 4.7 s) and held the port closed that much longer.
      const checkAfter = () => prerender?.all({}, true);
      if (options.readBack === false) return checkAfter();
      const failed = (err: unknown) => log.error('provisioning: reading kept files back failed', { err });
      const started = performance.now();
      const loaded = await renderer.readBack(first, options.readBackMs).catch((err: unknown) => (failed(err), 0));
      if (first.size > 0) log.info('provisioning: kept files read back', { files: loaded, of: first.size, ms: Math.round(performance.now() - started) });
      first.clear();
      if (rehearsal) await rehearseReplay(rehearsal.front, rehearsal.answer, rehearsal.requests);
      rehearsal = undefined;
      checkAfter();
    },
    templatesRouter() {
      router ??= createTemplatesRouter({ directory, templates, events });
      return router;
    },
    deviceConfig: (ref) => deviceFiles.list(ref),
    deviceConfigFile: (ref, name, host) => deviceFiles.render(ref, name, host),
    deviceUploads: (deviceId) => uploads.list(deviceId),
    deviceUpload: (deviceId, name) => uploads.read(deviceId, name),
    async fingerprint(accountId, deviceId) {
      const found = choiceOf(accountId, deviceId);
      if (!found || found.ref.device.enabled === false || found.ref.account.enabled === false) return null;
      try {
        return digestFiles(renderer.allFiles(found.ref, found.choice));
      } catch (err) {
        log.error('provisioning: fingerprint render failed', { account_id: accountId, device_id: deviceId, err });
        return null;
      }
    },
    checkSyncEvent(accountId, deviceId, reboot) {
      return choiceOf(accountId, deviceId)?.choice.profile.checkSyncEvent(reboot) ?? genericCheckSyncEvent(reboot);
    },
    autoAnswerHeaders(accountId, deviceId) {
      const found = choiceOf(accountId, deviceId);
      return found ? found.choice.profile.autoAnswerHeaders({ realm: found.ref.account.realm }) : {};
    },
    describe(accountId, deviceId) {
      const ref = refOf(accountId, deviceId);
      if (!ref) return undefined;
      const last = fetchLog.get(deviceId);
      const found = choiceOf(accountId, deviceId);
      if (!found && !last) return undefined;
      const mac = ref.device.mac_address ?? '';
      const info = found && resolveModel(found.choice.profile, found.choice.model, found.choice.family);
      return {
        vendor: found?.choice.profile.id,
        model: found?.choice.model || undefined,
        // The catalogue's answer: a known model, or an unknown one served with its family's defaults.
        ...(info ? { model_known: info.known, family: info.family, ...(info.known ? {} : { fallback_family: info.family }) } : {}),
        ...(found && found.choice.model && !info ? { model_known: false } : {}),
        files: found
          ? found.choice.profile.files
              .filter((f) => !f.upload && fetchesFile(f, info))
              .map((f) => f.nameFor({ mac, model: found.choice.model }))
              .filter((n): n is string => !!n)
          : [],
        last_fetch: last
          ? { time: new Date(last.time).toISOString(), address: last.address, user_agent: last.user_agent, file: last.file }
          : undefined,
      };
    },
    get renders() {
      return renderer.renders;
    },
    get keptServed() {
      return renderer.keptServed;
    },
    memoryStats: () => renderer.memoryStats(),
    async rendered() {
      await prerender?.idle();
      await kept?.flush();
    },
    close() {
      closing ??= (async () => {
        restored = [];
        rehearsal = undefined;
        unsubscribe();
        watcher?.close();
        prerender?.close();
        renderer.close();
        await Promise.all([fetchLog.close(), guard.close(), kept?.close(), answersFile?.close()]);
      })();
      return closing;
    },
  };
}
