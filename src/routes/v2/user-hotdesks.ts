import { Router } from 'express';
import type { AppDeps } from '../../http/deps.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom } from '../../http/route-lookups.js';
import { badIdentifier } from '../../http/errors.js';
import { methodNotAllowedFor } from './method-guard.js';

/** GET /v2/accounts/{A}/users/{U}/hotdesks (cb_hotdesks): the devices the user is hotdesked into. */
export function createUserHotdesksRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  router
    .route('/users/:userId/hotdesks')
    .get((req, res) => {
      const account = accountFrom(res);
      const userId = String(req.params.userId);
      if (!store.getUser(account.id, userId)) throw badIdentifier(userId);
      const rows = [];
      for (const id of store.deviceIdsFrom(account.id, undefined)) {
        const device = store.getDevice(account.id, id);
        if (device?.hotdesk?.users && Object.hasOwn(device.hotdesk.users, userId)) rows.push({ device_id: device.id, device_name: device.name, owner_id: device.owner_id });
      }
      sendSuccess(req, res, rows);
    })
    .all(methodNotAllowedFor);
  return router;
}
