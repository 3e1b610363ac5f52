import { Router, type Request, type Response } from 'express';
import { createHash } from 'node:crypto';
import type { AppDeps } from '../../http/deps.js';
import type { AuthLocals } from '../../http/auth.js';
import type { AccountDoc, DeviceDoc } from '../../domain/types.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom, deviceFrom } from '../../http/route-lookups.js';
import { addValidationError, badIdentifier, KazooError, validationError } from '../../http/errors.js';
import { deletedView, privateFields, publicView, requestFields, updatedFields } from '../../domain/docs.js';
import { newId } from '../../store/store.js';
import { prepareDevice } from '../../devices/device-rules.js';
import { isOwnedOrHotdesked, ownerRow, summaryRow, withoutPhoneSecrets } from '../../devices/device-views.js';
import { buildFilter } from '../../listing/query-filters.js';
import { pageRequest, paginate } from '../../listing/paginate.js';
import { checkIfMatch } from './if-match.js';
import { methodNotAllowedFor } from './method-guard.js';

/** /v2/accounts/:accountId/devices[/:deviceId] and /users/:userId/devices. Mounted after loadAccount. */
export function createDevicesRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  const accountOf = accountFrom;
  const isMaster = (res: Response) => store.masterAccount()?.id === (res.locals as Required<AuthLocals>).auth.account_id;
  const dataOf = (req: Request) => (req.body as { data?: unknown }).data;


  /** The device's API answer: public fields, plus live facts (registration, last fetch) under _read_only. */
  const view = (account: AccountDoc, device: DeviceDoc): Record<string, unknown> => {
    const out = withoutPhoneSecrets(publicView(device));
    out.id = device.id;
    const readOnly: Record<string, unknown> = {};
    for (const annotate of deps.deviceAnnotators ?? []) Object.assign(readOnly, annotate(account, device) ?? {});
    if (Object.keys(readOnly).length) out._read_only = readOnly;
    return out;
  };

  /** Validate (synchronously) then store: nothing awaits in between, so concurrent writes never interleave. */
  const save = async (res: Response, fields: Record<string, unknown>, id: string, stored?: DeviceDoc): Promise<DeviceDoc> => {
    const account = accountOf(res);
    const prepared = prepareDevice(fields, { store, account, stored, isMaster: isMaster(res) });
    if (prepared.errors) throw validationError(prepared.errors);
    const doc = {
      ...prepared.fields,
      ...(stored ? privateFields(stored) : {}),
      id,
      pvt_type: 'device',
      pvt_account_id: account.id,
    } as DeviceDoc;
    return store.save(doc, { sync: prepared.sync });
  };

  const create = async (req: Request, res: Response) => {
    const account = accountOf(res);
    const data = dataOf(req) as { id?: unknown } | undefined;
    let id = newId();
    if (data?.id !== undefined) {
      // Kazoo honours a client-chosen id.
      if (typeof data.id !== 'string' || !/^[0-9a-zA-Z_-]{1,64}$/.test(data.id)) {
        const errors = {};
        addValidationError(errors, 'id', 'pattern', { message: "Failed to match pattern '^[0-9a-zA-Z_-]{1,64}$'", target: '^[0-9a-zA-Z_-]{1,64}$', value: data.id });
        throw validationError(errors);
      }
      id = data.id;
      if (store.idTaken('device', account.id, id)) throw new KazooError(409, 'datastore_conflict', { message: 'conflicting documents' });
    }
    const device = await save(res, requestFields(data), id);
    res.location(`/v2/accounts/${account.id}/devices/${device.id}`);
    sendSuccess(req, res, view(account, device), { status: 201, revision: device._rev });
  };

  /** POST replaces the public fields; PATCH merges into them (null deletes). Both then validate in full. */
  const update = async (req: Request, res: Response, mode: 'replace' | 'merge') => {
    const account = accountOf(res);
    const stored = deviceFrom(req, res, store.latest);
    checkIfMatch(req, stored);
    const device = await save(res, updatedFields(stored, dataOf(req), mode), stored.id, stored);
    sendSuccess(req, res, view(account, device), { revision: device._rev });
  };

  const listRevision = (rows: unknown[]) => (rows.length ? createHash('md5').update(JSON.stringify(rows)).digest('hex') : undefined);

  router
    .route('/devices')
    .get((req, res) => {
      const account = accountOf(res);
      const query = req.query as Record<string, unknown>;
      const page = pageRequest(query);
      const filter = buildFilter(query);
      const { rows, envelope } = paginate(store.deviceIdsFrom(account.id, page.startKey, page.descending), page, (id) => {
        const device = store.getDevice(account.id, id);
        return device && (!filter || filter(device)) ? summaryRow(device) : undefined;
      });
      sendSuccess(req, res, rows, { extra: envelope, revision: listRevision(rows) });
    })
    .put(create)
    .all(methodNotAllowedFor);

  router
    .route('/devices/:deviceId')
    .get((req, res) => {
      const account = accountOf(res);
      const device = deviceFrom(req, res, store);
      sendSuccess(req, res, view(account, device), { revision: device._rev });
    })
    .post((req, res) => update(req, res, 'replace'))
    .patch((req, res) => update(req, res, 'merge'))
    .put((req) => {
      // Actions on a device (notify) are handled by the device-actions router mounted before this one.
      const body = req.body as { action?: unknown; data?: { action?: unknown } };
      const action = body.data?.action ?? body.action ?? req.query.action;
      throw new KazooError(400, action === undefined ? 'action required' : 'invalid action', {});
    })
    .delete(async (req, res) => {
      const account = accountOf(res);
      const stored = deviceFrom(req, res, store.latest);
      checkIfMatch(req, stored);
      await store.remove(stored);
      sendSuccess(req, res, deletedView(view(account, stored)), { revision: stored._rev });
    })
    .all(methodNotAllowedFor);

  router
    .route('/users/:userId/devices')
    .get((req, res) => {
      const account = accountOf(res);
      const userId = String(req.params.userId);
      if (!store.getUser(account.id, userId)) throw badIdentifier(userId);
      const rows = [...store.deviceIdsFrom(account.id, undefined)]
        .map((id) => store.getDevice(account.id, id)!)
        .filter((d) => isOwnedOrHotdesked(d, userId))
        .map((d) => ownerRow(d, userId));
      sendSuccess(req, res, rows, { revision: listRevision(rows) });
    })
    .put(async (req, res) => {
      const userId = String(req.params.userId);
      if (!store.getUser(accountOf(res).id, userId)) throw badIdentifier(userId);
      await create(req, res);
    })
    .all(methodNotAllowedFor);

  return router;
}
