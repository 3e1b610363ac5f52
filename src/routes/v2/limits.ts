import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom } from '../../http/route-lookups.js';
import { mergePatch, requestFields } from '../../domain/docs.js';
import { readExtra, writeExtra } from '../../accounts/account-extras.js';
import { methodNotAllowedFor } from './method-guard.js';
import { envelopeOf } from '../../http/request-body.js';
import { retryOnStale } from '../../store/stale-write.js';

/**
 * /v2/accounts/{A}/limits: the account's limits document, as stored (`{}` until set). This server places no
 * calls, so it enforces none of them; it keeps them for the clients that read and edit them (SmartPBX's device
 * dialog waits for this answer).
 */
export function createLimitsRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  const current = (res: Response) => readExtra<Record<string, unknown>>(store.latest.getAccount(accountFrom(res).id) ?? accountFrom(res), 'pvt_limits') ?? {};
  // Redone on the newer account when another node wrote it first (retryOnStale).
  const save = (req: Request, res: Response, merge: boolean) =>
    retryOnStale(async () => {
      const fields = requestFields(envelopeOf(req).data);
      const next = merge ? mergePatch(current(res), fields) : fields;
      await writeExtra(store, accountFrom(res).id, 'pvt_limits', next);
      sendSuccess(req, res, { ...next, id: 'limits' });
    });
  router
    .route('/limits')
    .get((req, res) => sendSuccess(req, res, { ...(readExtra<Record<string, unknown>>(accountFrom(res), 'pvt_limits') ?? {}), id: 'limits' }))
    .post((req, res) => save(req, res, false))
    .patch((req, res) => save(req, res, true))
    .all(methodNotAllowedFor);
  return router;
}
