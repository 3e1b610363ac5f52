import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Directory } from '../store/directory.js';
import type { Logger } from '../log.js';
import type { FetchLog } from './fetch-log.js';
import { authSettings, type HttpAuth } from './http-auth.js';
import type { ProbeGuard } from './probe-guard.js';
import { RenderError, type RenderedFile, type Renderer } from './renderer.js';
import type { VendorSelector } from './select.js';

/**
 * GET/HEAD /provision/<file>: the phone hot path. Plain node:http, no framework: parse the name, one index lookup,
 * a render-cache hit, one write. The requested name is only ever matched against the profiles' patterns — it is
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
}

/** What the decision needs from a request: the same for node:http and the lean front door. */
export interface PhoneRequest {
  method: string;
  url: string;
  /** Only `user-agent` and `authorization` are read (first value, like node:http keeps for those two). */
  headers: { 'user-agent'?: string; authorization?: string };
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
const ok = (file: RenderedFile): PhoneReply => ({ status: 200, headers: file.headers, body: file.body });

export type PhoneDecider = (req: PhoneRequest) => PhoneReply;

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

  return function decidePhoneRequest(req) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return METHOD_NOT_ALLOWED;
    const address = req.remoteAddress;
    if (guard.isBanned(address)) return FORBIDDEN;

    const url = req.url;
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    if (!pathname.startsWith(PREFIX)) return NOT_FOUND;
    const requested = pathname.slice(PREFIX.length);
    if (!SAFE_NAME.test(requested) || requested.includes('..')) return NOT_FOUND;
    const name = requested.toLowerCase();
    const matches = selector.match(name);
    if (matches.length === 0) return NOT_FOUND;

    const userAgent = req.headers['user-agent'] ?? '';
    const ua = selector.userAgent(userAgent);
    const mac = matches.find((m) => m.mac)?.mac;

    if (mac) {
      const ref = directory.findDeviceByMac(mac);
      if (!ref) {
        const banned = guard.probe(address);
        if (banned) log.warn('provisioning: address banned for probing unknown MACs', { address });
        return banned ? FORBIDDEN : NOT_FOUND;
      }
      if (ref.device.enabled === false || ref.account.enabled === false) return NOT_FOUND;
      // A phone announcing another MAC than the file it asks for is someone replaying a captured/guessed name.
      if (ua?.info.mac && ua.info.mac !== mac) {
        log.warn('provisioning: User-Agent MAC differs from requested file', { address, file: name, device_id: ref.device.id });
        return FORBIDDEN;
      }
      const choice = selector.choose(ref.device, ua, fetchLog.peek(ref.device.id));
      const match = choice && matches.find((m) => m.profile === choice.profile && m.mac);
      if (!choice || !match) return NOT_FOUND;

      const settings = authSettings(ref.account);
      if (settings) {
        const result = auth.check(settings, req.method, url, req.headers.authorization);
        if (!result.ok) return unauthorized(result.challenge);
      }

      let file: RenderedFile;
      try {
        file = renderer.deviceFile(ref, choice, match.file, name);
      } catch (err) {
        return failed(err, { account_id: ref.account.id, device_id: ref.device.id, file: name });
      }
      const time = Date.now();
      const loggedAgent = userAgent.slice(0, 256);
      // Same rule as record(): only address, User-Agent, file and age decide whether the entry must be persisted.
      if (!fetchLog.touch(ref.device.id, time, address, loggedAgent, name)) {
        fetchLog.record(ref.account.id, ref.device.id, {
          time,
          address,
          user_agent: loggedAgent,
          file: name,
          vendor: choice.profile.id,
          model: ua?.profile === choice.profile ? ua.info.model : undefined,
        });
      }
      return ok(file);
    }

    // Shared file: the vendor comes from the User-Agent, or from the name when only one vendor serves it.
    const shared = matches.filter((m) => !m.file.perDevice);
    const match = (ua && shared.find((m) => m.profile === ua.profile)) ?? (shared.length === 1 ? shared[0] : undefined);
    const accepted = match?.common !== undefined ? match.file.acceptCommon?.(match.common) : undefined;
    if (!match || !accepted) return NOT_FOUND;
    // The UA's MAC (when it carries one) names the account, whose overrides then apply — and its auth.
    const ref = ua?.info.mac ? directory.findDeviceByMac(ua.info.mac) : undefined;
    const account = ref && ref.device.enabled !== false && ref.account.enabled !== false ? ref.account : undefined;
    const settings = account && authSettings(account);
    if (settings) {
      const result = auth.check(settings, req.method, url, req.headers.authorization);
      if (!result.ok) return unauthorized(result.challenge);
    }
    try {
      return ok(renderer.sharedFile(match.profile, match.file, name, accepted.model, account));
    } catch (err) {
      return failed(err, { file: name, account_id: account?.id });
    }
  };
}

/** The node:http transport: one writeHead with the prepared header list, one end. */
export function createPhoneHandler(deps: PhoneHandlerDeps, decide: PhoneDecider = createPhoneDecider(deps)): (req: IncomingMessage, res: ServerResponse) => void {
  return function handlePhoneRequest(req, res) {
    const method = req.method ?? '';
    const reply = decide({ method, url: req.url ?? '', headers: req.headers, remoteAddress: req.socket.remoteAddress ?? '' });
    res.writeHead(reply.status, reply.headers as string[]);
    res.end(method === 'HEAD' ? undefined : reply.body);
  };
}
