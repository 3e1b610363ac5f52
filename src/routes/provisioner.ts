import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../http/deps.js';
import { sendSuccess } from '../http/envelope.js';
import { badIdentifier, forbidden, invalidCredentials, KazooError } from '../http/errors.js';
import { mayActOn, type AuthLocals } from '../http/auth.js';
import { cleanseMac } from '../devices/mac-address.js';
import { findModel, modelTemplate, phoneListing } from '../provision/phone-catalogue.js';
import { vendorProfiles } from '../../vendors/index.js';
import { VendorSelector } from '../provision/select.js';
import { methodNotAllowedFor } from './v2/method-guard.js';

/**
 * Monster UI's provisioner API (`monster.config.api.provisioner` = `<this server>/provisioner/`): the brand/model
 * picker's `phones`, the device dialog's `ui/{brand}/{family}/{model}` and its "unlock" `locks/{A}/{mac}`.
 * The catalogue is public data, as Kazoo's provisioner serves it; unlocking needs a token that may act on the
 * account. This server keeps no locks (a MAC belongs to whichever device carries it, unique across accounts), so
 * an unlock is answered honestly as done with nothing to release.
 */
export function createProvisionerRouter(deps: AppDeps): Router {
  const router = Router();
  const listing = phoneListing(vendorProfiles);
  const selector = new VendorSelector(vendorProfiles);

  router.route('/phones').get((req, res) => sendSuccess(req, res, listing)).all(methodNotAllowedFor);

  router
    .route('/ui/:brand/:family/:model')
    .get((req: Request, res: Response) => {
      const { brand, family, model } = req.params as Record<string, string>;
      const found = findModel(selector, brand!, family!, model!);
      if (!found) throw new KazooError(404, 'bad_identifier', { cause: `${brand}/${family}/${model}`, message: 'no such phone model in this server\'s catalogue' });
      sendSuccess(req, res, modelTemplate(found));
    })
    .all(methodNotAllowedFor);

  router
    .route('/locks/:accountId/:mac')
    .delete((req: Request, res: Response) => {
      const claims = (res.locals as AuthLocals).auth;
      if (!claims) throw invalidCredentials();
      const accountId = String(req.params.accountId);
      const account = /^[0-9a-f]{32}$/.test(accountId) ? deps.store.getAccount(accountId) : undefined;
      if (!account) throw badIdentifier(accountId);
      if (!mayActOn(deps.store, claims, account)) throw forbidden();
      const mac = cleanseMac(String(req.params.mac));
      if (!mac) throw new KazooError(400, 'validation error', { mac_address: { invalid: { message: 'not a MAC address', value: String(req.params.mac) } } });
      sendSuccess(req, res, { mac_address: mac, locked: false });
    })
    .all(methodNotAllowedFor);

  return router;
}
