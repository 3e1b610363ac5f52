import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import type { AccountDoc } from '../../domain/types.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom } from '../../http/route-lookups.js';
import { addValidationError, badIdentifier, KazooError, validationError, type ValidationErrors } from '../../http/errors.js';
import { isPlainObject } from '../../domain/docs.js';
import { readExtra, writeExtra } from '../../accounts/account-extras.js';
import { APP_CATALOGUE, findApp, type AppDefinition } from '../../apps/catalogue.js';
import { methodNotAllowedFor } from './method-guard.js';
import { envelopeOf } from '../../http/request-body.js';
import { retryOnStale } from '../../store/stale-write.js';

/** Who of the account's users may open an enabled app (Kazoo's apps_store install document). */
interface AppGrant {
  allowed_users: 'all' | 'admins' | 'specific';
  users: Array<{ id: string }>;
}
type Grants = Record<string, AppGrant>;

const MAX_USERS = 1000;

/**
 * /v2/accounts/{A}/apps_store[/{APP}]: the Monster apps this server backs, and which ones the account's users
 * may open. Monster logs out when this listing fails, and opens only apps whose `allowed_users` admits the user.
 * An operator enables an app with PUT (install), changes who may use it with POST/PATCH, disables it with
 * DELETE. Until an account has its own setting, the master account has every app for its admins and other
 * accounts none.
 */
export function createAppsStoreRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });

  const grantsOf = (account: AccountDoc): Grants => {
    const own = readExtra<Grants>(account, 'pvt_apps_store');
    if (own) return own;
    if (store.masterAccount()?.id !== account.id) return {};
    return Object.fromEntries(APP_CATALOGUE.map((app) => [app.id, { allowed_users: 'admins', users: [] }]));
  };
  const view = (app: AppDefinition, grant: AppGrant | undefined) => ({ ...app, ...(grant ? { allowed_users: grant.allowed_users, users: grant.users } : {}) });
  const appOf = (req: Request) => {
    const id = String(req.params.appId);
    const app = findApp(id);
    if (!app) throw badIdentifier(id);
    return app;
  };

  const parseGrant = (data: unknown, base?: AppGrant): AppGrant => {
    const body = isPlainObject(data) ? data : {};
    const errors: ValidationErrors = {};
    const allowed = body.allowed_users ?? base?.allowed_users ?? 'specific';
    if (allowed !== 'all' && allowed !== 'admins' && allowed !== 'specific') {
      addValidationError(errors, 'allowed_users', 'enum', { message: 'Value not found in enumerated list of values', target: ['all', 'admins', 'specific'], value: allowed });
    }
    const users = body.users ?? base?.users ?? [];
    if (!Array.isArray(users) || users.length > MAX_USERS || !users.every((u) => isPlainObject(u) && typeof u.id === 'string' && /^[0-9a-f]{32}$/.test(u.id))) {
      addValidationError(errors, 'users', 'type', { message: `users must be a list of at most ${MAX_USERS} {"id": "<user id>"}`, target: 'array' });
    }
    if (Object.keys(errors).length) throw validationError(errors);
    return { allowed_users: allowed as AppGrant['allowed_users'], users: (users as Array<{ id: string }>).map((u) => ({ id: u.id })) };
  };

  // Redone on the newer account when another node wrote it first (retryOnStale).
  const saveGrant = (res: Response, appId: string, grant: AppGrant | undefined) =>
    retryOnStale(async () => {
      const account = accountFrom(res);
      const grants = { ...grantsOf(store.latest.getAccount(account.id) ?? account) };
      if (grant) grants[appId] = grant;
      else delete grants[appId];
      await writeExtra(store, account.id, 'pvt_apps_store', grants);
    });

  router
    .route('/apps_store')
    .get((req, res) => {
      const grants = grantsOf(accountFrom(res));
      sendSuccess(req, res, APP_CATALOGUE.map((app) => view(app, grants[app.id])));
    })
    .all(methodNotAllowedFor);

  router
    .route('/apps_store/:appId')
    .get((req, res) => {
      const app = appOf(req);
      sendSuccess(req, res, view(app, grantsOf(accountFrom(res))[app.id]));
    })
    .put(async (req, res) => {
      const app = appOf(req);
      if (grantsOf(accountFrom(res))[app.id] && readExtra(accountFrom(res), 'pvt_apps_store')) {
        throw new KazooError(409, 'conflict', { message: 'app already installed; POST to change who may use it' });
      }
      const grant = parseGrant(envelopeOf(req).data);
      await saveGrant(res, app.id, grant);
      sendSuccess(req, res, view(app, grant), { status: 201 });
    })
    .post(async (req, res) => {
      const app = appOf(req);
      const grant = parseGrant(envelopeOf(req).data);
      await saveGrant(res, app.id, grant);
      sendSuccess(req, res, view(app, grant));
    })
    .patch(async (req, res) => {
      const app = appOf(req);
      const grant = parseGrant(envelopeOf(req).data, grantsOf(accountFrom(res))[app.id]);
      await saveGrant(res, app.id, grant);
      sendSuccess(req, res, view(app, grant));
    })
    .delete(async (req, res) => {
      const app = appOf(req);
      await saveGrant(res, app.id, undefined);
      sendSuccess(req, res, view(app, undefined));
    })
    .all(methodNotAllowedFor);

  return router;
}
