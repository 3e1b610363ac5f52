import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../http/deps.js';
import { accountFrom } from '../../http/route-lookups.js';
import type { UserDoc } from '../../domain/types.js';
import { sendSuccess } from '../../http/envelope.js';
import { badIdentifier, KazooError } from '../../http/errors.js';
import { deletedView, requestFields, updatedFields } from '../../domain/docs.js';
import { saveUser, userView } from '../../accounts/user-service.js';
import { newId } from '../../store/store.js';
import { checkIfMatch } from './if-match.js';
import { retryOnStale } from '../../store/stale-write.js';
import { methodNotAllowedFor } from './method-guard.js';
import { envelopeOf, dataObjectOf } from '../../http/request-body.js';

/** /v2/accounts/:accountId/users[/:userId]. Mounted after loadAccount. */
export function createUsersRouter(deps: AppDeps): Router {
  const { store } = deps;
  const router = Router({ mergeParams: true });
  const accountOf = accountFrom;
  /** Reads see committed users; writes build on the newest version (`store.latest`). */
  const userOf = (req: Request, accountId: string, directory: Pick<typeof store, 'getUser'> = store): UserDoc => {
    const id = String(req.params.userId);
    const user = directory.getUser(accountId, id);
    if (!user) throw badIdentifier(id);
    return user;
  };

  /** POST replaces the public fields; PATCH merges into them (null deletes). */
  const update = (req: Request, res: Response, mode: 'replace' | 'merge') =>
    retryOnStale(async () => {
      const account = accountOf(res);
      const stored = userOf(req, account.id, store.latest);
      checkIfMatch(req, stored);
      const user = await saveUser(store, account.id, stored.id, updatedFields(stored, envelopeOf(req).data, mode), stored);
      sendSuccess(req, res, userView(user), { revision: user._rev });
    });

  router
    .route('/users')
    .get((req, res) => {
      const rows = store
        .listUsers(accountOf(res).id)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((u) => {
          const { id, first_name, last_name, username, email, presence_id, priv_level, timezone } = userView(u) as Record<string, unknown>;
          return Object.fromEntries(Object.entries({ id, first_name, last_name, username, email, presence_id, priv_level, timezone }).filter(([, v]) => v !== undefined));
        });
      sendSuccess(req, res, rows);
    })
    .put(async (req, res) => {
      const account = accountOf(res);
      const data = envelopeOf(req).data;
      const chosen = dataObjectOf(req)?.id;
      const id = typeof chosen === 'string' && /^[0-9a-f]{32}$/.test(chosen) ? chosen : newId();
      if (store.idTaken('user', account.id, id)) throw new KazooError(409, 'datastore_conflict', { message: 'conflicting documents' });
      const user = await saveUser(store, account.id, id, requestFields(data));
      res.location(`/v2/accounts/${account.id}/users/${user.id}`);
      sendSuccess(req, res, userView(user), { status: 201, revision: user._rev });
    })
    .all(methodNotAllowedFor);

  router
    .route('/users/:userId')
    .get((req, res) => {
      const user = userOf(req, accountOf(res).id);
      sendSuccess(req, res, userView(user), { revision: user._rev });
    })
    .post((req, res) => update(req, res, 'replace'))
    .patch((req, res) => update(req, res, 'merge'))
    .delete((req, res) =>
      retryOnStale(async () => {
        const stored = userOf(req, accountOf(res).id, store.latest);
        checkIfMatch(req, stored);
        await store.remove(stored);
        sendSuccess(req, res, deletedView(userView(stored)), { revision: stored._rev });
      }),
    )
    .all(methodNotAllowedFor);

  return router;
}
