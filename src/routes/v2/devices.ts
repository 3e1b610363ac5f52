import { Router, type Request, type Response } from 'express';
import { createHash } from 'node:crypto';
import type { DeviceRef } from '../../domain/types.js';
import type { Caller, DeviceService, QuickCallArgs } from '../../devices/device-service.js';
import { summaryRow } from '../../devices/device-views.js';
import { deletedView } from '../../domain/docs.js';
import { sendSuccess } from '../../http/envelope.js';
import { methodNotAllowed, notFound } from '../../http/errors.js';
import { dataObjectOf, envelopeOf, queryOf } from '../../http/request-body.js';
import { accountFrom, claimsFrom } from '../../http/route-lookups.js';
import { buildFilter } from '../../listing/query-filters.js';
import { pageRequest, paginate } from '../../listing/paginate.js';
import type { ProvisioningService } from '../../provision/service.js';
import type { Store } from '../../store/store.js';
import { checkIfMatch } from './if-match.js';
import { retryOnStale } from '../../store/stale-write.js';
import { methodNotAllowedFor } from './method-guard.js';

/**
 * The device resource, in the manner of Kazoo's cb_devices: one router for every path under
 * /v2/accounts/:accountId/devices (and the user-scoped /users/:userId/devices and /quickcall), backed by one
 * DeviceService. Mounted after loadAccount (auth, scoping and body parsing are done). The routes only read the
 * request, call the service and answer; the service's domain errors become Kazoo's envelope in
 * src/http/error-mapper.ts.
 *
 *   GET|PUT             /devices                                    list, create
 *   GET                 /devices/status                             registered devices (with SIP)
 *   GET|POST|PATCH|DELETE /devices/:deviceId                        read, replace, merge, delete
 *   PUT                 /devices/:deviceId                          an action: {"action":"notify", "data":{"event"…}}
 *   POST                /devices/:deviceId/sync                     check-sync ("sync request sent")
 *   POST|PUT            /devices/:deviceId/notify                   the seed's notify (202 "NOTIFY sent")
 *   GET|POST            /devices/:deviceId/quickcall/:number        and /users/:userId/quickcall/:number
 *   GET                 /devices/:deviceId/config[/:file]           files the phone will fetch, one as it gets it
 *   GET                 /devices/:deviceId/provision_uploads[/:name] files the phone uploaded
 *   GET|PUT             /users/:userId/devices
 * sync and notify answer as Kazoo does, at once; the outbox delivers them (now, or when the phone registers) and
 * the device's `_read_only.sip_notify` tells what became of the last one.
 */
export interface DevicesRouterDeps {
  store: Store;
  devices: DeviceService;
  provisioning?: Pick<ProvisioningService, 'deviceConfig' | 'deviceConfigFile' | 'deviceUploads' | 'deviceUpload'>;
}

type Handler = (req: Request, res: Response) => unknown;

/** A path answering only the given methods; any other method gets Kazoo's 405 envelope. */
function only(router: Router, path: string, handlers: Partial<Record<'get' | 'post' | 'put', Handler>>): void {
  const route = router.route(path);
  for (const [method, handler] of Object.entries(handlers)) route[method as 'get' | 'post' | 'put'](handler);
  route.all(() => {
    throw methodNotAllowed();
  });
}

const truthy = (value: unknown): boolean | undefined => {
  if (value === undefined || value === null || value === '') return undefined;
  return value === true || value === 'true' || value === 1 || value === '1';
};

const listRevision = (rows: unknown[]) => (rows.length ? createHash('md5').update(JSON.stringify(rows)).digest('hex') : undefined);

export function createDevicesRouter(deps: DevicesRouterDeps): Router {
  const { store, devices } = deps;
  const router = Router({ mergeParams: true });
  const caller = (res: Response): Caller => ({ account: accountFrom(res), isMaster: store.masterAccount()?.id === claimsFrom(res).account_id });
  const deviceId = (req: Request) => String(req.params.deviceId ?? '');
  /** `reboot` from the query, the envelope's data, or beside it (the seed's clients use all three). */
  const rebootOf = (req: Request): boolean | undefined => {
    const body = envelopeOf(req);
    return truthy(req.query.reboot) ?? truthy(dataObjectOf(req)?.reboot) ?? truthy(body.reboot);
  };
  const quickCallArgs = (req: Request): QuickCallArgs => ({
    number: String(req.params.number),
    query: queryOf(req),
    data: req.method === 'POST' ? (envelopeOf(req).data as Record<string, unknown> | undefined) : undefined,
  });

  router
    .route('/devices')
    .get((req, res) => {
      const account = accountFrom(res);
      const query = queryOf(req);
      const page = pageRequest(query);
      const filter = buildFilter(query);
      const { rows, envelope } = paginate(store.deviceIdsFrom(account.id, page.startKey, page.descending), page, (id) => {
        const device = store.getDevice(account.id, id);
        return device && (!filter || filter(device)) ? summaryRow(device) : undefined;
      });
      sendSuccess(req, res, rows, { extra: envelope, revision: listRevision(rows) });
    })
    .put((req, res) => create(req, res))
    .all(methodNotAllowedFor);

  const create = async (req: Request, res: Response, forUser?: string) => {
    const who = caller(res);
    const device = await devices.create(who, envelopeOf(req).data, forUser);
    res.location(`/v2/accounts/${who.account.id}/devices/${device.id}`);
    sendSuccess(req, res, devices.view(who.account, device), { status: 201, revision: device._rev });
  };

  /** Built on the newest version; redone on the newer one when another node wrote first (retryOnStale). */
  const update = (req: Request, res: Response, mode: 'replace' | 'merge') =>
    retryOnStale(async () => {
      const who = caller(res);
      const stored = devices.get(who.account, deviceId(req), true);
      checkIfMatch(req, stored);
      const device = await devices.update(who, stored, envelopeOf(req).data, mode);
      sendSuccess(req, res, devices.view(who.account, device), { revision: device._rev });
    });

  const notify = async (req: Request, res: Response) => {
    await devices.notify(accountFrom(res), deviceId(req), { payload: dataObjectOf(req) ?? {}, reboot: rebootOf(req) });
    sendSuccess(req, res, 'NOTIFY sent', { status: 202 });
  };

  if (devices.offersActions) {
    only(router, '/devices/status', { get: (req, res) => sendSuccess(req, res, devices.status(accountFrom(res))) });
  }

  router
    .route('/devices/:deviceId')
    .get((req, res) => {
      const account = accountFrom(res);
      const device = devices.get(account, deviceId(req));
      sendSuccess(req, res, devices.view(account, device), { revision: device._rev });
    })
    .post((req, res) => update(req, res, 'replace'))
    .patch((req, res) => update(req, res, 'merge'))
    .put(async (req, res) => {
      // Kazoo's PUT on a device is an action request (cb_devices: put/2 with action=notify).
      devices.action(envelopeOf(req).action ?? dataObjectOf(req)?.action ?? req.query.action);
      await notify(req, res);
    })
    .delete((req, res) =>
      retryOnStale(async () => {
        const account = accountFrom(res);
        const stored = devices.get(account, deviceId(req), true);
        checkIfMatch(req, stored);
        await devices.remove(stored);
        sendSuccess(req, res, deletedView(devices.view(account, stored)), { revision: stored._rev });
      }),
    )
    .all(methodNotAllowedFor);

  if (devices.offersActions) {
    only(router, '/devices/:deviceId/sync', {
      post: async (req, res) => {
        await devices.sync(accountFrom(res), deviceId(req), rebootOf(req) ?? false);
        sendSuccess(req, res, 'sync request sent');
      },
    });
    only(router, '/devices/:deviceId/notify', { post: notify, put: notify });
    const quickcall = async (req: Request, res: Response) => {
      sendSuccess(req, res, await devices.quickCall(accountFrom(res), deviceId(req), quickCallArgs(req)));
    };
    const userQuickcall = async (req: Request, res: Response) => {
      sendSuccess(req, res, await devices.userQuickCall(accountFrom(res), String(req.params.userId), quickCallArgs(req)));
    };
    only(router, '/devices/:deviceId/quickcall/:number', { get: quickcall, post: quickcall });
    only(router, '/users/:userId/quickcall/:number', { get: userQuickcall, post: userQuickcall });
  }

  if (deps.provisioning) {
    addDeviceProvisioningRoutes(router, { provisioning: deps.provisioning, refOf: (req, res) => {
      const account = accountFrom(res);
      return { account, device: devices.get(account, deviceId(req)) };
    } });
  }

  router
    .route('/users/:userId/devices')
    .get((req, res) => {
      const rows = devices.ofUser(accountFrom(res), String(req.params.userId));
      sendSuccess(req, res, rows, { revision: listRevision(rows) });
    })
    .put((req, res) => create(req, res, String(req.params.userId)))
    .all(methodNotAllowedFor);

  return router;
}

/**
 * The device's provisioning views (what its phone fetches, and what it uploaded). Part of the device router;
 * exported so the provisioning tests can serve them beside the template routes without a Store.
 */
export function addDeviceProvisioningRoutes(
  router: Router,
  deps: {
    provisioning: NonNullable<DevicesRouterDeps['provisioning']>;
    refOf: (req: Request, res: Response) => DeviceRef;
  },
): void {
  const { provisioning, refOf } = deps;
  router.get('/devices/:deviceId/config', (req, res) => {
    sendSuccess(req, res, provisioning.deviceConfig(refOf(req, res)));
  });

  router.get('/devices/:deviceId/config/:file', (req, res) => {
    const file = provisioning.deviceConfigFile(refOf(req, res), String(req.params.file ?? ''), req.headers.host);
    if (!file) throw notFound();
    res.status(200).set({ 'Content-Type': file.contentType, 'Cache-Control': 'no-store' }).send(file.body);
  });

  router.get('/devices/:deviceId/provision_uploads', (req, res) => {
    const list = provisioning.deviceUploads(refOf(req, res).device.id);
    sendSuccess(req, res, list.map((f) => ({ name: f.name, bytes: f.bytes, uploaded: new Date(f.modified).toISOString() })));
  });

  router.get('/devices/:deviceId/provision_uploads/:name', (req, res) => {
    const body = provisioning.deviceUpload(refOf(req, res).device.id, String(req.params.name ?? ''));
    if (!body) throw notFound();
    // Text the phone wrote: shown as plain text, never interpreted by a browser.
    res.status(200).set({ 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' }).send(body);
  });
}
