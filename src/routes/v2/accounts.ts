import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import { accountFrom } from '../../http/route-lookups.js';
import type { AccountDoc } from '../../domain/types.js';
import { sendSuccess } from '../../http/envelope.js';
import { badIdentifier, forbidden, KazooError } from '../../http/errors.js';
import { accountView, createAccount, newApiKey, updateAccount } from '../../accounts/account-service.js';
import { deletedView, updatedFields } from '../../domain/docs.js';
import { checkIfMatch } from './if-match.js';
import { retryOnStale } from '../../store/stale-write.js';
import { methodNotAllowedFor } from './method-guard.js';
import { envelopeOf } from '../../http/request-body.js';

/** /v2/accounts/:accountId (the account itself) and its api_key. Mounted after loadAccount. */
export function createAccountRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  /** The route's account as a writer must see it: its newest version, counting writes not yet durable. */
  const newestAccount = (res: Response): AccountDoc => {
    const id = accountFrom(res).id;
    const account = store.latest.getAccount(id);
    if (!account) throw badIdentifier(id);
    return account;
  };

  /** POST replaces the public fields; PATCH merges into them (null deletes). */
  const update = (req: Request, res: Response, mode: 'replace' | 'merge') =>
    retryOnStale(async () => {
      const account = newestAccount(res);
      checkIfMatch(req, account);
      const saved = await updateAccount(store, account, updatedFields(account, envelopeOf(req).data, mode));
      sendSuccess(req, res, accountView(saved), { revision: saved._rev });
    });

  router
    .route('/')
    .get((req, res) => {
      const account = accountFrom(res);
      sendSuccess(req, res, accountView(account), { revision: account._rev });
    })
    .put(async (req, res) => {
      // PUT on an account creates a child of it.
      const parent = accountFrom(res);
      const child = await createAccount(store, envelopeOf(req).data, parent);
      res.location(`/v2/accounts/${child.id}`);
      sendSuccess(req, res, accountView(child), { status: 201, revision: child._rev });
    })
    .post((req, res) => update(req, res, 'replace'))
    .patch((req, res) => update(req, res, 'merge'))
    .delete(async (req, res) => {
      const account = newestAccount(res);
      checkIfMatch(req, account);
      if (store.masterAccount()?.id === account.id) throw forbidden();
      if (store.listAccounts().some((a) => a.pvt_tree[a.pvt_tree.length - 1] === account.id)) {
        throw new KazooError(400, 'account_has_descendants', { message: 'account has descendants; delete them first' });
      }
      await store.removeAccount(account);
      sendSuccess(req, res, deletedView(accountView(account)), { revision: account._rev });
    })
    .all(methodNotAllowedFor);

  // Kazoo's account listings, as Monster UI uses them: rows {id, name, realm, tree}.
  const accountRow = (a: AccountDoc) => ({ id: a.id, name: a.name, realm: a.realm, tree: a.pvt_tree });
  const listBelow = (predicate: (account: AccountDoc, self: AccountDoc) => boolean) => (req: Request, res: Response) => {
    const self = accountFrom(res);
    const rows = store
      .listAccounts()
      .filter((a) => predicate(a, self))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map(accountRow);
    sendSuccess(req, res, rows);
  };
  router.route('/children').get(listBelow((a, self) => a.pvt_tree[a.pvt_tree.length - 1] === self.id)).all(methodNotAllowedFor);
  router.route('/descendants').get(listBelow((a, self) => a.pvt_tree.includes(self.id))).all(methodNotAllowedFor);

  router
    .route('/api_key')
    .get((req, res) => {
      sendSuccess(req, res, { api_key: accountFrom(res).pvt_api_key });
    })
    // Rotate: a new key replaces the old at once (the store seals it at rest and re-indexes it for api_auth);
    // tokens already issued stay valid until they expire, as in Kazoo.
    .put((req, res) =>
      retryOnStale(async () => {
        const saved = await store.save({ ...newestAccount(res), pvt_api_key: newApiKey() });
        sendSuccess(req, res, { api_key: saved.pvt_api_key }, { status: 201 });
      }),
    )
    .all(methodNotAllowedFor);

  return router;
}
