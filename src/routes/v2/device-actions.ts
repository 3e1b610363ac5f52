import { Router, type NextFunction, type Request, type Response } from 'express';
import type { AccountDoc, DeviceDoc } from '../../domain/types.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom, deviceFrom } from '../../http/route-lookups.js';
import { addValidationError, badIdentifier, KazooError, methodNotAllowed, validationError, type ValidationErrors } from '../../http/errors.js';
import type { Logger } from '../../log.js';
import type { ProvisioningService } from '../../provision/service.js';
import type { Directory } from '../../store/directory.js';
import { SipMessageTooLargeError, type NotifyOptions, type SipService } from '../../sip/service.js';
import type { DeviceOutbox, OutboxEntry } from '../../sip/device-outbox.js';
import { parseQuickCall } from '../../sip/api/quickcall-request.js';
import { quickCallView } from '../../sip/api/quickcall-view.js';

/**
 * Device actions that talk to phones over SIP: /devices/status, /devices/{ID}/sync, PUT /devices/{ID}
 * with action "notify" (and the seed's POST /devices/{ID}/notify), /devices/{ID}/quickcall/{NUMBER}.
 * Mounted at /v2/accounts/:accountId before the devices CRUD router; auth, scoping and body parsing are
 * done by then. sync and notify answer as Kazoo does, at once ("sync request sent", 202 "NOTIFY sent");
 * the outbox delivers them (now, or when the phone registers) and the device's `_read_only.sip_notify`
 * tells what became of the last one.
 */
export interface DeviceActionsDeps {
  directory: Directory;
  sip: SipService;
  outbox: DeviceOutbox;
  provisioning?: Pick<ProvisioningService, 'checkSyncEvent'>;
  log: Logger;
}

type Envelope = { action?: unknown; reboot?: unknown; data?: Record<string, unknown> & { action?: unknown; reboot?: unknown; data?: Record<string, unknown> } };

const notRegistered = (deviceId: string) =>
  new KazooError(409, 'device_not_registered', { cause: deviceId, message: 'device is not registered; nothing was sent' });

/** The NOTIFY would not fit one UDP datagram: the caller's body is too big, said in Kazoo's validation form. */
function messageTooLarge(err: SipMessageTooLargeError): KazooError {
  const errors: ValidationErrors = {};
  addValidationError(errors, 'data.body', 'maxLength', {
    message: `the NOTIFY, headers and body, must fit in one UDP datagram of at most ${err.limit} bytes (SIP_MAX_DATAGRAM); with this body it is ${err.size} bytes`,
    target: err.limit,
  });
  return validationError(errors);
}

function truthy(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return value === true || value === 'true' || value === 1 || value === '1';
}

export function createDeviceActionsRouter(deps: DeviceActionsDeps): Router {
  const { directory, sip, log } = deps;
  const router = Router({ mergeParams: true });
  const accountOf = accountFrom;
  const body = (req: Request) => (req.body ?? {}) as Envelope;
  const deviceOf = (req: Request, res: Response): DeviceDoc => deviceFrom(req, res, directory);
  const rebootOf = (req: Request): boolean | undefined => {
    const b = body(req);
    return truthy(req.query.reboot) ?? truthy(b.data?.reboot) ?? truthy(b.reboot);
  };
  const syncEvent = (accountId: string, deviceId: string, reboot: boolean): string => {
    try {
      const event = deps.provisioning?.checkSyncEvent(accountId, deviceId, reboot);
      if (event) return event;
    } catch (err) {
      log.warn('check-sync event lookup failed', { account_id: accountId, device_id: deviceId, error: (err as Error).message });
    }
    return reboot ? 'check-sync;reboot=true' : 'check-sync';
  };

  const send = (account: AccountDoc, device: DeviceDoc, action: OutboxEntry['action'], options: NotifyOptions): Promise<OutboxEntry> =>
    deps.outbox.request(account.id, device.id, action, options).catch((err: unknown) => {
      throw err instanceof SipMessageTooLargeError ? messageTooLarge(err) : err;
    });

  /** A path answering only the given methods; any other method gets Kazoo's 405 envelope. */
  const only = (path: string, handlers: Partial<Record<'get' | 'post' | 'put', (req: Request, res: Response) => unknown>>) => {
    const route = router.route(path);
    for (const [method, handler] of Object.entries(handlers)) route[method as 'get' | 'post' | 'put'](handler);
    route.all(() => {
      throw methodNotAllowed();
    });
  };

  only('/devices/status', {
    get: (req, res) => {
      const rows = sip.registrations(accountOf(res).id).map((r) => ({ device_id: r.deviceId, registered: true }));
      sendSuccess(req, res, rows);
    },
  });

  only('/devices/:deviceId/sync', {
    post: async (req, res) => {
      const account = accountOf(res);
      const device = deviceOf(req, res);
      await send(account, device, 'sync', { event: syncEvent(account.id, device.id, rebootOf(req) ?? false) });
      sendSuccess(req, res, 'sync request sent');
    },
  });

  const notify = async (req: Request, res: Response) => {
    const account = accountOf(res);
    const payload = body(req).data ?? {};
    // Kazoo's validated form nests the event one level deeper (data.data.event); the seed puts it in data.event.
    const inner = (payload.data && typeof payload.data === 'object' ? payload.data : payload) as Record<string, unknown>;
    const errors: ValidationErrors = {};
    const reboot = rebootOf(req);
    let event = inner.event;
    if (event === undefined && reboot !== undefined) event = syncEvent(account.id, String(req.params.deviceId), reboot);
    if (typeof event !== 'string' || event.trim() === '') {
      addValidationError(errors, 'data.event', 'required', { message: 'Field is required but missing' });
    } else if (/[\r\n]/.test(event) || event.length > 256) {
      addValidationError(errors, 'data.event', 'invalid', { message: 'event must be one line of at most 256 characters', value: event });
    }
    let notifyBody: NotifyOptions['body'];
    if (inner.body !== undefined) {
      const b = inner.body as { content_type?: unknown; data?: unknown } | null;
      if (!b || typeof b !== 'object' || typeof b.content_type !== 'string' || typeof b.data !== 'string' || /[\r\n]/.test(b.content_type)) {
        addValidationError(errors, 'data.body', 'invalid', { message: 'body needs string content_type and data' });
      } else notifyBody = { content_type: b.content_type, data: b.data };
    }
    if (Object.keys(errors).length) throw validationError(errors);
    const device = deviceOf(req, res);
    await send(account, device, 'notify', { event: String(event).trim(), body: notifyBody });
    sendSuccess(req, res, 'NOTIFY sent', { status: 202 });
  };

  router.put('/devices/:deviceId', async (req: Request, res: Response, next: NextFunction) => {
    const b = body(req);
    const action = b.action ?? b.data?.action ?? req.query.action;
    if (action !== 'notify') return next(); // "action required"/"invalid action" are the CRUD router's answers
    await notify(req, res);
  });

  only('/devices/:deviceId/notify', { post: notify, put: notify });

  const quickcall = (req: Request, res: Response) => callFrom(req, res, deviceOf(req, res));

  /**
   * A user's quickcall rings the user's phone: Kazoo rings all their devices; this server calls one, the first
   * registered device the user owns (by id), and names it in `endpoints`. None registered: 409, as for a device.
   */
  const userQuickcall = (req: Request, res: Response) => {
    const account = accountOf(res);
    const userId = String(req.params.userId);
    if (!directory.getUser(account.id, userId)) throw badIdentifier(userId);
    const owned = directory
      .listDevices(account.id)
      .filter((d) => d.owner_id === userId)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const device = owned.find((d) => sip.registrationOf(account.id, d.id)) ?? owned[0];
    if (!device) throw notRegistered(userId);
    return callFrom(req, res, device);
  };

  const callFrom = async (req: Request, res: Response, device: DeviceDoc) => {
    const account = accountOf(res);
    const q = parseQuickCall(String(req.params.number), req.query as Record<string, unknown>, req.method === 'POST' ? body(req).data : undefined);
    if (!sip.registrationOf(account.id, device.id)) throw notRegistered(device.id);
    const result = await sip.quickCall(account.id, device.id, q.number, {
      autoAnswer: q.autoAnswer,
      callerIdName: q.callerIdName,
      callerIdNumber: q.callerIdNumber,
      timeoutSeconds: q.timeoutSeconds,
    });
    const view = quickCallView(account, device, q, result);
    if (result.outcome === 'not_registered') throw notRegistered(device.id);
    if (result.outcome !== 'answered') {
      throw new KazooError(result.outcome === 'timeout' ? 504 : 502, 'quickcall initiation failed', view);
    }
    sendSuccess(req, res, view);
  };

  only('/devices/:deviceId/quickcall/:number', { get: quickcall, post: quickcall });
  only('/users/:userId/quickcall/:number', { get: userQuickcall, post: userQuickcall });

  return router;
}
