import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { AppDeps } from './http/deps.js';
import { requestContext } from './http/request-context.js';
import { jsonBody } from './http/body.js';
import { verbOverride } from './http/verb-override.js';
import { loadAccount, readToken, requireAuth } from './http/auth.js';
import { sendError, sendSuccess } from './http/envelope.js';
import { KazooError, notFound } from './http/errors.js';
import { isParamDecodeError, undecodableParamError } from './http/path-params.js';
import { createAuthRouter } from './routes/v2/auth.js';
import { createAccountRouter } from './routes/v2/accounts.js';
import { createUsersRouter } from './routes/v2/users.js';
import { createDevicesRouter } from './routes/v2/devices.js';
import { createControlRouter } from './routes/control.js';
import { createProvisionerRouter } from './routes/provisioner.js';
import { createKazooClientRouters } from './routes/v2/client-resources.js';
import { accountView, createAccount } from './accounts/account-service.js';
import { methodNotAllowedFor } from './routes/v2/method-guard.js';
import { DatastoreError } from './store/store.js';
import { DeviceService } from './devices/device-service.js';
import { toKazooError } from './http/error-mapper.js';
import { envelopeOf } from './http/request-body.js';
import { claimsFrom } from './http/route-lookups.js';

/** One line per API request. The path only: a query string may carry `auth_token`. */
function accessLog(deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      deps.log.info('api', {
        method: req.method,
        path: req.baseUrl + req.path,
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        request_id: res.get('X-Request-ID'),
      });
    });
    next();
  };
}

/**
 * The Kazoo-compatible REST API as an express app (no listen). The phone-facing /provision/ path does not
 * go through express: src/server.ts hands it to the provisioning service's lean handler.
 */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  if (deps.controlSecret) app.use('/internal', createControlRouter(deps));

  const v2 = Router();
  v2.use(accessLog(deps), requestContext, jsonBody(deps.config.maxBodyBytes), verbOverride, readToken(deps.tokens));
  v2.use(createAuthRouter(deps));
  const clientRouters = createKazooClientRouters(deps);
  v2.use(clientRouters.top);

  // PUT /v2/accounts: a child of the caller's own account.
  v2.route('/accounts')
    .put(requireAuth, async (req, res) => {
      const parent = deps.store.getAccount(claimsFrom(res).account_id);
      if (!parent) throw new KazooError(401, 'invalid credentials', {});
      const child = await createAccount(deps.store, envelopeOf(req).data, parent);
      res.location(`/v2/accounts/${child.id}`);
      sendSuccess(req, res, accountView(child), { status: 201, revision: child._rev });
    })
    .all(methodNotAllowedFor);

  const account = Router({ mergeParams: true });
  account.use(createAccountRouter(deps));
  account.use(createUsersRouter(deps));
  account.use(clientRouters.account);
  for (const router of deps.accountRouters ?? []) account.use(router);
  const devices = deps.devices ?? new DeviceService({ store: deps.store, log: deps.log });
  account.use(createDevicesRouter({ store: deps.store, devices, provisioning: deps.provisioning, events: deps.events, listingSliceDocs: deps.config.listingSliceDocs }));
  v2.use('/accounts/:accountId', loadAccount(deps.store), account);

  v2.use(() => {
    throw notFound();
  });
  app.use('/v2', v2);

  // Monster UI's provisioner API (monster.config.api.provisioner): the phone picker and device dialog.
  const provisioner = Router();
  provisioner.use(accessLog(deps), requestContext, readToken(deps.tokens), createProvisionerRouter(deps));
  provisioner.use(() => {
    throw notFound();
  });
  app.use('/provisioner', provisioner);

  app.use((req: Request, res: Response) => {
    sendError(req, res, notFound());
  });
  // Every error ends here: Kazoo's envelope for ours; a 500 (logged) only for a genuine server fault.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const kazoo = toKazooError(err);
    if (kazoo) return sendError(req, res, kazoo);
    if (isParamDecodeError(err)) return sendError(req, res, undecodableParamError(req));
    if (err instanceof DatastoreError) {
      deps.log.error('datastore write failed', { method: req.method, path: req.path, error: err.cause });
      return sendError(req, res, new KazooError(503, 'datastore_fault', { message: 'datastore fatal error' }));
    }
    deps.log.error('request failed', { method: req.method, path: req.path, error: err });
    sendError(req, res, new KazooError(500, 'internal_server_error', { message: 'internal server error' }));
  });
  return app;
}
