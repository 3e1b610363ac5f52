import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import type { AccountDoc } from '../../domain/types.js';
import { mayActOn } from '../../http/auth.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom, claimsFrom } from '../../http/route-lookups.js';
import { methodNotAllowedFor } from './method-guard.js';

/**
 * /v2/accounts/{A}/tree, /parents and /siblings (cb_accounts), as Monster's account switcher and accounts app
 * read them. Only accounts the caller may act on are shown: a sub-account's token never learns its ancestors.
 */
export function createAccountTreeRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  const visible = (res: Response) => {
    const claims = claimsFrom(res);
    return (a: AccountDoc | undefined): a is AccountDoc => a !== undefined && mayActOn(store, claims, a);
  };
  const ancestors = (res: Response) => accountFrom(res).pvt_tree.map((id) => store.getAccount(id)).filter(visible(res));
  const row = (a: AccountDoc) => ({ id: a.id, name: a.name, realm: a.realm });

  router
    .route('/tree')
    .get((req: Request, res: Response) => sendSuccess(req, res, ancestors(res).map((a) => ({ id: a.id, name: a.name }))))
    .all(methodNotAllowedFor);
  router
    .route('/parents')
    .get((req: Request, res: Response) => sendSuccess(req, res, ancestors(res).map(row)))
    .all(methodNotAllowedFor);
  router
    .route('/siblings')
    .get((req: Request, res: Response) => {
      const self = accountFrom(res);
      const parent = self.pvt_tree[self.pvt_tree.length - 1];
      const show = visible(res);
      const rows = store
        .listAccounts()
        .filter((a) => a.id !== self.id && a.pvt_tree[a.pvt_tree.length - 1] === parent && show(a))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map(row);
      sendSuccess(req, res, rows);
    })
    .all(methodNotAllowedFor);
  return router;
}
