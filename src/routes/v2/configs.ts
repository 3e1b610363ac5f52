import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom } from '../../http/route-lookups.js';
import { addValidationError, KazooError, validationError } from '../../http/errors.js';
import { deletedView, mergePatch, requestFields } from '../../domain/docs.js';
import { readExtra, writeExtra } from '../../accounts/account-extras.js';
import { methodNotAllowedFor } from './method-guard.js';
import { envelopeOf } from '../../http/request-body.js';
import { retryOnStale } from '../../store/stale-write.js';

type Configs = Record<string, Record<string, unknown>>;

const CATEGORY = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_CATEGORIES = 32;

/**
 * /v2/accounts/{A}/configs/{CATEGORY}: the account's own settings documents (Kazoo's `configs_<category>`, e.g.
 * `kazoo_endpoint`, which SmartPBX's device dialog waits for). `{}` until set; PUT/POST replace, PATCH merges,
 * DELETE removes.
 */
export function createConfigsRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  const categoryOf = (req: Request): string => {
    const category = String(req.params.category);
    if (!CATEGORY.test(category)) {
      const errors = {};
      addValidationError(errors, 'category', 'pattern', { message: `Failed to match pattern '${CATEGORY.source}'`, target: CATEGORY.source, value: category.slice(0, 64) });
      throw validationError(errors);
    }
    return category;
  };
  const newest = (res: Response): Configs => readExtra<Configs>(store.latest.getAccount(accountFrom(res).id) ?? accountFrom(res), 'pvt_configs') ?? {};
  // Redone on the newer account when another node wrote it first (retryOnStale).
  const write = (req: Request, res: Response, merge: boolean, status = 200) => retryOnStale(async () => {
    const category = categoryOf(req);
    const configs = { ...newest(res) };
    if (!(category in configs) && Object.keys(configs).length >= MAX_CATEGORIES) {
      throw new KazooError(400, 'validation error', { category: { maxItems: { message: `an account keeps at most ${MAX_CATEGORIES} config categories`, target: MAX_CATEGORIES } } });
    }
    const fields = requestFields(envelopeOf(req).data);
    configs[category] = merge ? mergePatch(configs[category] ?? {}, fields) : fields;
    await writeExtra(store, accountFrom(res).id, 'pvt_configs', configs);
    sendSuccess(req, res, { ...configs[category], id: category }, { status });
  });
  router
    .route('/configs/:category')
    .get((req, res) => {
      const category = categoryOf(req);
      const doc = readExtra<Configs>(accountFrom(res), 'pvt_configs')?.[category] ?? {};
      sendSuccess(req, res, { ...doc, id: category });
    })
    .put((req, res) => write(req, res, false, 201))
    .post((req, res) => write(req, res, false))
    .patch((req, res) => write(req, res, true))
    .delete((req, res) => retryOnStale(async () => {
      const category = categoryOf(req);
      const configs = { ...newest(res) };
      const was = configs[category] ?? {};
      delete configs[category];
      await writeExtra(store, accountFrom(res).id, 'pvt_configs', Object.keys(configs).length ? configs : undefined);
      sendSuccess(req, res, deletedView({ ...was, id: category }));
    }))
    .all(methodNotAllowedFor);
  return router;
}
