import { Router } from 'express';
import { sendSuccess } from '../../http/envelope.js';
import { badIdentifier } from '../../http/errors.js';
import { notManagedHere } from './not-managed.js';

/**
 * /v2/accounts/{A}/phone_numbers: the account's numbers, as far as this server keeps them: none. Honestly empty
 * in Kazoo's shape (`{"numbers":{}}`), so SmartPBX's device dialog opens; `classifiers` is empty too (this
 * server classifies no dialled numbers). Any write is refused.
 */
export function createPhoneNumbersRouter(): Router {
  const router = Router({ mergeParams: true });
  const refuse = notManagedHere('phone numbers');
  router
    .route('/phone_numbers')
    .get((req, res) => sendSuccess(req, res, { numbers: {}, cascade_quantity: 0 }))
    .all(refuse);
  router
    .route('/phone_numbers/classifiers')
    .get((req, res) => sendSuccess(req, res, {}))
    .all(refuse);
  router
    .route('/phone_numbers/:number')
    .get((req) => {
      throw badIdentifier(String(req.params.number).slice(0, 64));
    })
    .all(refuse);
  return router;
}
