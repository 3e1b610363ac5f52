import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientAddress } from '../http/client-address.js';
import type { Directory } from '../store/directory.js';
import type { Logger } from '../log.js';
import type { FetchLog } from './fetch-log.js';
import { authSettings, type AuthSettings, type HttpAuth } from './http-auth.js';
import type { ProbeGuard } from './probe-guard.js';
import { RenderError, type DeviceFile, type RenderedFile, type Renderer } from './renderer.js';
import { noteFetch, ReplayTicket, type TicketDeps } from './replay-ticket.js';
import type { Wired } from './wire.js';
import type { VendorSelector } from './select.js';
import { fetchesFile, resolveModel } from './catalogue.js';
import { servedVariantOf } from './device-choice.js';
import type { FirmwareStore } from './firmware.js';
import type { RequestOrigin } from './settings.js';
import type { UploadStore } from './uploads.js';
import { accountUrlKey, splitPhonePath, urlKeyAccepted, type PhonePath } from './url-key.js';

/**
 * GET/HEAD /provision/<file> (or /provision/<url_key>/<file>, see url-key.ts): the phone hot path. Plain
 * node:http, no framework: parse the name, one index lookup, a render-cache hit, one write. The requested name is only ever matched against the profiles' patterns — it is
 * never used to open a file, so nothing outside the template tree can be reached.
 */
const PREFIX = '/provision/';
/** One path segment of ordinary file-name characters. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

export interface PhoneHandlerDeps {
  directory: Directory;
  selector: VendorSelector;
  renderer: Renderer;
  guard: ProbeGuard;
  auth: HttpAuth;
  fetchLog: FetchLog;
  log: Logger;
  /** The origin a request's files are rendered for, from its Host header (PROVISION_BASE_URL aside). */
  originOf?: (host: string | undefined) => RequestOrigin;
  firmware?: FirmwareStore;
  uploads?: UploadStore;
}

/** What the decision needs from a request: the same for node:http and the lean front door. */
export interface PhoneRequest {
  method: string;
  url: string;
  /** Only `user-agent`, `authorization` and `host` are read (first value, like node:http keeps for those). */
  headers: { 'user-agent'?: string; authorization?: string; host?: string };
  remoteAddress: string;
}

/**
 * A complete answer: status, the headers as a flat [name, value, …] list (everything but Date/Connection, which
 * each transport adds) and the body (omitted on the wire for HEAD; Content-Length stays).
 */
export interface PhoneReply {
  status: number;
  headers: readonly string[];
  body: Buffer;
  /** The rendered file behind a 200, whose prepared wire (head and body in one buffer) a transport may write as is. */
  prepared?: Wired;
  /** Set (status 0) when a PUT may deliver its body: the transport stores it (node:http only, src/provision/uploads.ts). */
  upload?: { deviceId: string; name: string };
  /**
   * Set on a 200 for a device file that may be answered again without deciding anew: a transport that keeps the
   * reply (the front door keeps its wire bytes) asks `replay` first on the next request for the same URL.
   */
  reuse?: ReplayTicket;
}


function plain(status: number, text: string, extra: readonly string[] = []): PhoneReply {
  const body = Buffer.from(`${text}\n`, 'utf8');
  return {
    status,
    headers: ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length), 'Cache-Control', 'no-store', ...extra],
    body,
  };
}

// The fixed answers are built once: a probe storm of 404s costs no header building either.
const NOT_FOUND = plain(404, 'Not Found');
const FORBIDDEN = plain(403, 'Forbidden');
const SERVER_ERROR = plain(500, 'Internal Server Error');
const METHOD_NOT_ALLOWED = plain(405, 'Method Not Allowed', ['Allow', 'GET, HEAD']);
const unauthorized = (challenge: string) => plain(401, 'Unauthorized', ['WWW-Authenticate', challenge]);
const EMPTY = Buffer.alloc(0);
const ok = (file: RenderedFile): PhoneReply => ({ status: 200, headers: file.headers, body: file.body, prepared: file });

export type PhoneDecider = (req: PhoneRequest) => PhoneReply;

/** Without a configured rule: the Host as sent, over plain HTTP. */
export const defaultOrigin = (host: string | undefined): RequestOrigin => ({ host: host || 'localhost', scheme: 'http' });

/** The whole phone-side decision (ban, name, UA/MAC check, auth, render, fetch log), transport-free. */
export function createPhoneDecider(deps: PhoneHandlerDeps): PhoneDecider {
  const { directory, selector, renderer, guard, auth, fetchLog, log } = deps;

  function failed(err: unknown, where: Record<string, unknown>): PhoneReply {
    if (err instanceof RenderError) {
      log.error('provisioning: rendered file rejected, not served', { template: err.template, layer: err.layer, line: err.line, reason: err.message, ...where });
    } else {
      log.error('provisioning: render failed', { err, ...where });
    }
    return SERVER_ERROR;
  }

  /**
   * The answer to a request that fails the account's HTTP auth, or undefined when it passes. Wrong credentials
   * count toward the same ban as unknown MACs (a password guess is a probe too); the one that starts it is
   * answered like any banned request.
   */
  function authRefusal(settings: AuthSettings, req: PhoneRequest, address: string): PhoneReply | undefined {
    const result = auth.check(settings, req.method, req.url, req.headers.authorization);
    if (result.ok) return undefined;
    if (result.strike && guard.probe(address, 'failed authentication')) return FORBIDDEN;
    return unauthorized(result.challenge);
  }

  const originOf = deps.originOf ?? defaultOrigin;
  const ticketDeps: TicketDeps = { directory, selector, renderer, guard, fetchLog, originOf };

  return function decidePhoneRequest(req) {
    const upload = req.method === 'PUT';
    if (req.method !== 'GET' && req.method !== 'HEAD' && !upload) return METHOD_NOT_ALLOWED;
    const address = req.remoteAddress;
    if (guard.isBanned(address)) return FORBIDDEN;

    const url = req.url;
    const phonePath = phonePathOf(url);
    if (!phonePath || !SAFE_NAME.test(phonePath.file)) return NOT_FOUND;
    const name = phonePath.file.toLowerCase();
    const matches = selector.match(name).filter((m) => !upload || (m.file.upload && m.file.perDevice));
    if (matches.length === 0) return upload ? METHOD_NOT_ALLOWED : NOT_FOUND;

    const userAgent = req.headers['user-agent'] ?? '';
    const ua = selector.userAgent(userAgent);
    const mac = matches.find((m) => m.mac)?.mac;

    if (mac) {
      const ref = directory.findDeviceByMac(mac);
      // Without its account's URL key a device is an unknown MAC: the same answer, the same count. The guard logs
      // the ban it starts.
      if (!ref || !urlKeyAccepted(ref.account, phonePath.key)) return guard.probe(address) ? FORBIDDEN : NOT_FOUND;
      if (ref.device.enabled === false || ref.account.enabled === false) return NOT_FOUND;
      // A phone announcing another MAC than the file it asks for is someone replaying a captured/guessed name.
      if (ua?.info.mac && ua.info.mac !== mac) {
        log.warn('provisioning: User-Agent MAC differs from requested file', { address, file: name, device_id: ref.device.id });
        return FORBIDDEN;
      }
      // The device document and this request's User-Agent decide; for a phone that does not say what it is, the
      // vendor/model this file's kept copy was made for (device-choice.ts). The last-fetch log is never read.
      const choice = selector.choose(ref.device, ua, servedVariantOf(renderer, ref.device, name, ua));
      // One name, several files of a profile (per-family layouts: a vendor's ATA, DECT and desk templates): the one
      // the chosen model fetches; the first when none says so (a model the catalogue cannot place).
      const own = choice ? matches.filter((m) => m.profile === choice.profile && m.mac) : [];
      const model = own.length > 1 ? resolveModel(choice!.profile, choice!.model, choice!.family) : undefined;
      const match = own.length > 1 ? (own.find((m) => fetchesFile(m.file, model)) ?? own[0]) : own[0];
      if (!choice || !match) return NOT_FOUND;

      const settings = authSettings(ref.account);
      const refused = settings && authRefusal(settings, req, address);
      if (refused) return refused;
      if (upload) return deps.uploads ? { status: 0, headers: [], body: EMPTY, upload: { deviceId: ref.device.id, name } } : METHOD_NOT_ALLOWED;
      if (match.file.upload) {
        // What the phone uploaded comes back to it (Polycom reads its own -phone.cfg overrides); nothing else.
        const kept = deps.uploads?.read(ref.device.id, name);
        return kept ? { status: 200, headers: ['Content-Type', match.file.contentType, 'Content-Length', String(kept.length), 'Cache-Control', 'no-store'], body: kept } : NOT_FOUND;
      }

      let file: RenderedFile;
      const origin = originOf(req.headers.host);
      try {
        file = renderer.deviceFile(ref, choice, match.file, name, origin);
      } catch (err) {
        return failed(err, { account_id: ref.account.id, device_id: ref.device.id, file: name });
      }
      const loggedAgent = userAgent.slice(0, 256);
      const uaModel = ua?.profile === choice.profile ? ua.info.model : undefined;
      noteFetch(fetchLog, ref.account.id, ref.device.id, address, loggedAgent, name, choice.profile.id, uaModel);
      // A key segment an account does not ask for is ignored; answers under such URLs are not kept (any segment
      // would do, and each would be one more kept answer).
      const strayKey = phonePath.key !== undefined && accountUrlKey(ref.account) === undefined;
      const keyed = 'fp' in file ? (file as DeviceFile) : undefined;
      const inputs = keyed && !settings && !strayKey && loggedAgent === userAgent ? renderer.fingerprints.inputs(ref, choice.profile.id, match.file.template, keyed.userIds) : undefined;
      const ticket = inputs && new ReplayTicket(ticketDeps, ref.account.id, ref.device.id, choice, match.file.template, keyed!, inputs, userAgent, uaModel, req.headers.host, phonePath.key !== undefined);
      return { status: 200, headers: file.headers, body: file.body, prepared: file, reuse: ticket };
    }

    // Shared file: the vendor comes from the User-Agent, or from the name when only one vendor serves it.
    const shared = matches.filter((m) => !m.file.perDevice);
    const match = (ua && shared.find((m) => m.profile === ua.profile)) ?? (shared.length === 1 ? shared[0] : undefined);
    const accepted = match?.common !== undefined ? match.file.acceptCommon?.(match.common) : undefined;
    if (!match || !accepted) return NOT_FOUND;
    // The UA's MAC (when it carries one) names the account, whose overrides then apply — and its auth. Without
    // the account's URL key that MAC is as good as unknown: the file is served without the account.
    const ref = ua?.info.mac ? directory.findDeviceByMac(ua.info.mac) : undefined;
    const account =
      ref && ref.device.enabled !== false && ref.account.enabled !== false && urlKeyAccepted(ref.account, phonePath.key) ? ref.account : undefined;
    const settings = account && authSettings(account);
    const refused = settings && authRefusal(settings, req, address);
    if (refused) return refused;
    try {
      return ok(renderer.sharedFile(match.profile, match.file, name, accepted.model, account));
    } catch (err) {
      return failed(err, { file: name, account_id: account?.id });
    }
  };
}

/**
 * The node:http transport: one writeHead with the prepared header list, one end. `clientAddress`: who the client is
 * behind trusted proxies (TRUST_PROXY); without it, the socket's peer.
 */
export function createPhoneHandler(
  deps: PhoneHandlerDeps,
  decide: PhoneDecider = createPhoneDecider(deps),
  clientAddress?: ClientAddress,
): (req: IncomingMessage, res: ServerResponse) => void {
  return function handlePhoneRequest(req, res) {
    const method = req.method ?? '';
    const peer = req.socket.remoteAddress ?? '';
    const forwardedFor = req.headers['x-forwarded-for'];
    const remoteAddress = clientAddress ? clientAddress.of(peer, forwardedFor) : peer;
    const url = req.url ?? '';
    const send = (reply: PhoneReply) => {
      res.writeHead(reply.status, reply.headers as string[]);
      res.end(method === 'HEAD' ? undefined : reply.body);
    };
    if ((method === 'GET' || method === 'HEAD') && deps.firmware && !deps.guard.isBanned(remoteAddress)) {
      const name = firmwareName(url, deps.selector, deps.firmware);
      if (name && deps.firmware.serve(name, req, res)) return;
    }
    const reply = decide({ method, url, headers: req.headers, remoteAddress });
    if (reply.upload && deps.uploads) {
      const { deviceId, name } = reply.upload;
      void deps.uploads.receive(deviceId, name, req).then((status) => {
        if (status === 201 || status === 204) deps.log.info('provisioning: phone upload kept', { device_id: deviceId, file: name });
        send(status === 413 ? plain(413, 'Payload Too Large', ['Connection', 'close']) : status >= 400 ? plain(status, 'Bad Request') : plain(status === 201 ? 201 : 200, 'OK'));
      });
      return;
    }
    if (method === 'PUT') req.resume();
    send(reply);
  };
}

/**
 * The key and file a phone's URL names under /provision/ (query string dropped), or undefined when it is not such
 * a path or the file name climbs (`..`). Callers then hold the name to their own pattern.
 */
function phonePathOf(url: string): PhonePath | undefined {
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  if (!pathname.startsWith(PREFIX)) return undefined;
  const phonePath = splitPhonePath(pathname.slice(PREFIX.length));
  return phonePath && !phonePath.file.includes('..') ? phonePath : undefined;
}

/**
 * The firmware file a GET names, when it is one: /provision/[<key>/]<name> with a name of the firmware pattern
 * that no vendor file pattern claims (a config name is never answered from the firmware directory).
 */
export function firmwareName(url: string, selector: VendorSelector, firmware: FirmwareStore): string | undefined {
  const phonePath = phonePathOf(url);
  // The listing holds only names of the firmware pattern, so one Set lookup decides: the phone hot path pays no
  // pattern matching for config names (none is a firmware file).
  if (!phonePath || !firmware.has(phonePath.file)) return undefined;
  return selector.match(phonePath.file.toLowerCase()).length ? undefined : phonePath.file;
}
