import { Router } from 'express';
import { sendSuccess } from '../../http/envelope.js';
import { badIdentifier } from '../../http/errors.js';
import { notManagedHere } from './not-managed.js';

/**
 * /v2/accounts/{A}/callflows: this server routes no calls, so an account has no callflows here. The listing is
 * honestly empty (every SmartPBX tab reads it); a callflow id is unknown; writes are refused.
 */
export function createCallflowsRouter(): Router {
  const router = Router({ mergeParams: true });
  const refuse = notManagedHere('callflows');
  router
    .route('/callflows')
    .get((req, res) => sendSuccess(req, res, []))
    .all(refuse);
  router
    .route('/callflows/:callflowId')
    .get((req) => {
      throw badIdentifier(String(req.params.callflowId).slice(0, 64));
    })
    .all(refuse);
  return router;
}
