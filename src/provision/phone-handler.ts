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

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

export function createPhoneHandler(deps: PhoneHandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { directory, selector, renderer, guard, auth, fetchLog, log } = deps;

  function send(req: IncomingMessage, res: ServerResponse, file: RenderedFile): void {
    // Content-Type, Content-Length and Cache-Control (no-store for per-device files), prepared with the body.
    res.writeHead(200, file.headers as string[]);
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  function failed(res: ServerResponse, err: unknown, where: Record<string, unknown>): void {
    if (err instanceof RenderError) {
      log.error('provisioning: rendered file rejected, not served', { template: err.template, layer: err.layer, line: err.line, reason: err.message, ...where });
    } else {
      log.error('provisioning: render failed', { err, ...where });
    }
    plain(res, 500, 'Internal Server Error');
  }

  return function handlePhoneRequest(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    const address = req.socket.remoteAddress ?? '';
    if (guard.isBanned(address)) return plain(res, 403, 'Forbidden');

    const url = req.url ?? '';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    if (!pathname.startsWith(PREFIX)) return plain(res, 404, 'Not Found');
    const requested = pathname.slice(PREFIX.length);
    if (!SAFE_NAME.test(requested) || requested.includes('..')) return plain(res, 404, 'Not Found');
    const name = requested.toLowerCase();
    const matches = selector.match(name);
    if (matches.length === 0) return plain(res, 404, 'Not Found');

    const userAgent = req.headers['user-agent'] ?? '';
    const ua = selector.userAgent(userAgent);
    const mac = matches.find((m) => m.mac)?.mac;

    if (mac) {
      const ref = directory.findDeviceByMac(mac);
      if (!ref) {
        const banned = guard.probe(address);
        if (banned) log.warn('provisioning: address banned for probing unknown MACs', { address });
        return plain(res, banned ? 403 : 404, banned ? 'Forbidden' : 'Not Found');
      }
      if (ref.device.enabled === false || ref.account.enabled === false) return plain(res, 404, 'Not Found');
      // A phone announcing another MAC than the file it asks for is someone replaying a captured/guessed name.
      if (ua?.info.mac && ua.info.mac !== mac) {
        log.warn('provisioning: User-Agent MAC differs from requested file', { address, file: name, device_id: ref.device.id });
        return plain(res, 403, 'Forbidden');
      }
      const choice = selector.choose(ref.device, ua, fetchLog.peek(ref.device.id));
      const match = choice && matches.find((m) => m.profile === choice.profile && m.mac);
      if (!choice || !match) return plain(res, 404, 'Not Found');

      const settings = authSettings(ref.account);
      if (settings) {
        const result = auth.check(settings, req.method, url, req.headers.authorization);
        if (!result.ok) return plain(res, 401, 'Unauthorized', { 'WWW-Authenticate': result.challenge });
      }

      let file: RenderedFile;
      try {
        file = renderer.deviceFile(ref, choice, match.file, name);
      } catch (err) {
        return failed(res, err, { account_id: ref.account.id, device_id: ref.device.id, file: name });
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
      return send(req, res, file);
    }

    // Shared file: the vendor comes from the User-Agent, or from the name when only one vendor serves it.
    const shared = matches.filter((m) => !m.file.perDevice);
    const match = (ua && shared.find((m) => m.profile === ua.profile)) ?? (shared.length === 1 ? shared[0] : undefined);
    const accepted = match?.common !== undefined ? match.file.acceptCommon?.(match.common) : undefined;
    if (!match || !accepted) return plain(res, 404, 'Not Found');
    // The UA's MAC (when it carries one) names the account, whose overrides then apply — and its auth.
    const ref = ua?.info.mac ? directory.findDeviceByMac(ua.info.mac) : undefined;
    const account = ref && ref.device.enabled !== false && ref.account.enabled !== false ? ref.account : undefined;
    const settings = account && authSettings(account);
    if (settings) {
      const result = auth.check(settings, req.method, url, req.headers.authorization);
      if (!result.ok) return plain(res, 401, 'Unauthorized', { 'WWW-Authenticate': result.challenge });
    }
    try {
      send(req, res, renderer.sharedFile(match.profile, match.file, name, accepted.model, account));
    } catch (err) {
      failed(res, err, { file: name, account_id: account?.id });
    }
  };
}
