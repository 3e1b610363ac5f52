import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import type { AccountDoc } from '../../domain/types.js';
import { sendSuccess } from '../../http/envelope.js';
import { accountFrom } from '../../http/route-lookups.js';
import { addValidationError, badIdentifier, validationError, type ValidationErrors } from '../../http/errors.js';
import { deletedView, mergePatch, requestFields } from '../../domain/docs.js';
import { readExtra, writeExtra } from '../../accounts/account-extras.js';
import { methodNotAllowedFor } from './method-guard.js';
import { envelopeOf } from '../../http/request-body.js';
import { retryOnStale } from '../../store/stale-write.js';

type Whitelabel = Record<string, unknown> & { domain?: string };

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;

const whitelabelOf = (account: AccountDoc) => readExtra<Whitelabel>(account, 'pvt_whitelabel');
const answer = (doc: Whitelabel) => ({ ...doc, id: 'whitelabel' });

/**
 * Kazoo's whitelabel: an account's branding document (`/v2/accounts/{A}/whitelabel`, 404 until set, as Kazoo),
 * and its lookup by the domain a browser loads Monster UI from (`GET /v2/whitelabel/{domain}`, no token:
 * Monster asks before login and merges the answer into its branding, or keeps its defaults on 404). Logos are
 * not stored: `/whitelabel/{domain}/logo` is a 404 and Monster falls back to its own.
 */
export function createWhitelabelRouters(deps: AppDeps): { account: Router; lookup: Router } {
  const { store } = deps;
  const account = Router({ mergeParams: true });
  const lookup = Router();

  const byDomain = (domain: string): AccountDoc | undefined => {
    const wanted = domain.toLowerCase();
    return store.listAccounts().find((a) => whitelabelOf(a)?.domain?.toLowerCase() === wanted);
  };
  const check = (doc: Whitelabel, selfId: string) => {
    const errors: ValidationErrors = {};
    if (doc.domain !== undefined) {
      if (typeof doc.domain !== 'string' || !DOMAIN.test(doc.domain)) {
        addValidationError(errors, 'domain', 'pattern', { message: 'domain must be a host name', value: doc.domain });
      } else {
        const owner = byDomain(doc.domain);
        if (owner && owner.id !== selfId) addValidationError(errors, 'domain', 'unique', { message: 'Domain already in use', cause: doc.domain });
      }
    }
    if (Object.keys(errors).length) throw validationError(errors);
  };
  // Redone on the newer account when another node wrote it first (retryOnStale).
  const write = (req: Request, res: Response, merge: boolean, status = 200) => retryOnStale(async () => {
    const self = accountFrom(res);
    const fields = requestFields(envelopeOf(req).data) as Whitelabel;
    const stored = whitelabelOf(store.latest.getAccount(self.id) ?? self) ?? {};
    const next = (merge ? mergePatch(stored, fields) : fields) as Whitelabel;
    check(next, self.id);
    await writeExtra(store, self.id, 'pvt_whitelabel', next);
    sendSuccess(req, res, answer(next), { status });
  });

  account
    .route('/whitelabel')
    .get((req, res) => {
      const doc = whitelabelOf(accountFrom(res));
      if (!doc) throw badIdentifier('whitelabel');
      sendSuccess(req, res, answer(doc));
    })
    .put((req, res) => write(req, res, false, 201))
    .post((req, res) => write(req, res, false))
    .patch((req, res) => write(req, res, true))
    .delete((req, res) => retryOnStale(async () => {
      const self = accountFrom(res);
      const doc = whitelabelOf(store.latest.getAccount(self.id) ?? self);
      if (!doc) throw badIdentifier('whitelabel');
      await writeExtra(store, self.id, 'pvt_whitelabel', undefined);
      sendSuccess(req, res, deletedView(answer(doc)));
    }))
    .all(methodNotAllowedFor);

  lookup
    .route('/whitelabel/:domain')
    .get((req, res) => {
      const domain = String(req.params.domain).slice(0, 253);
      const owner = byDomain(domain);
      const doc = owner && whitelabelOf(owner);
      if (!doc) throw badIdentifier(domain);
      sendSuccess(req, res, answer(doc));
    })
    .all(methodNotAllowedFor);

  return { account, lookup };
}
