import { Router } from 'express';
import type { AppDeps } from '../../http/deps.js';
import type { AccountDoc, UserDoc } from '../../domain/types.js';
import { sendSuccess, contextOf } from '../../http/envelope.js';
import { addValidationError, badToken, invalidCredentials, KazooError, validationError, type ValidationErrors } from '../../http/errors.js';
import { requireAuth } from '../../http/auth.js';
import { methodNotAllowedFor } from './method-guard.js';
import { RevocationListFullError } from '../../auth/tokens.js';
import { dataObjectOf } from '../../http/request-body.js';
import { claimsFrom } from '../../http/route-lookups.js';

/** PUT /v2/api_auth, PUT /v2/user_auth, GET|DELETE /v2/token_auth. */
export function createAuthRouter(deps: AppDeps): Router {
  const router = Router();
  const { store, tokens } = deps;

  const checkEnabled = (account: AccountDoc) => {
    if (account.enabled === false) {
      throw new KazooError(400, 'validation error', { account: { disabled: { message: 'account disabled' } } });
    }
  };
  /** What a login answers (crossbar_util:populate_resp), also for GET /user_auth/{token}. */
  const authData = (account: AccountDoc, user: UserDoc | undefined) => {
    const master = store.masterAccount();
    return {
      account_id: account.id,
      account_name: account.name,
      ...(user ? { owner_id: user.id } : {}),
      apps: [],
      is_master_account: master?.id === account.id,
      is_reseller: master?.id === account.id,
      language: (account.language as string | undefined) ?? 'en-us',
      reseller_id: master?.id ?? account.id,
    };
  };
  const respond = (req: Parameters<typeof sendSuccess>[0], res: Parameters<typeof sendSuccess>[1], account: AccountDoc, user: UserDoc | undefined, method: 'api_auth' | 'user_auth') => {
    checkEnabled(account);
    const { token } = tokens.issue({ account_id: account.id, owner_id: user?.id, method });
    contextOf(req).authToken = token;
    res.set('X-Auth-Token', token);
    sendSuccess(req, res, authData(account, user), { status: 201 });
  };

  router
    .route('/api_auth')
    .put((req, res) => {
      const data = dataObjectOf(req) ?? {};
      const apiKey = data.api_key;
      const errors: ValidationErrors = {};
      if (apiKey === undefined) addValidationError(errors, 'api_key', 'required', { message: 'Field is required but missing', value: 'api_key' });
      else if (typeof apiKey !== 'string') addValidationError(errors, 'api_key', 'type', { message: 'Value did not match type(s): string', target: 'string', value: apiKey });
      else if (apiKey.length !== 64) {
        addValidationError(errors, 'api_key', apiKey.length < 64 ? 'minLength' : 'maxLength', {
          message: apiKey.length < 64 ? 'String must be at least 64 characters' : 'String must not be more than 64 characters',
          target: 64,
        });
      }
      if (Object.keys(errors).length) throw validationError(errors);
      const account = store.findAccountByApiKey(apiKey as string);
      // Kazoo answers an unknown key with 404 bad identifier, not 401.
      if (!account) throw new KazooError(404, 'bad identifier', [apiKey]);
      respond(req, res, account, undefined, 'api_auth');
    })
    .all(methodNotAllowedFor);

  router
    .route('/user_auth')
    .put((req, res) => {
      const data = dataObjectOf(req) ?? {};
      const errors: ValidationErrors = {};
      const credentials = data.credentials;
      if (typeof credentials !== 'string' || credentials.length < 1 || credentials.length > 64) {
        addValidationError(errors, 'credentials', credentials === undefined ? 'required' : 'type', {
          message: credentials === undefined ? 'Field is required but missing' : 'Value did not match type(s): string(1..64)',
          value: 'credentials',
        });
      }
      const method = data.method ?? 'md5';
      if (method !== 'md5' && method !== 'sha') addValidationError(errors, 'method', 'enum', { message: 'Value not found in enumerated list of values', target: ['md5', 'sha'], value: method });
      if (Object.keys(errors).length) throw validationError(errors);
      let candidates: AccountDoc[] = [];
      // Kazoo reads `account_realm` or `realm` (kazoo-php-sdk sends `realm`).
      const realm = typeof data.account_realm === 'string' ? data.account_realm : typeof data.realm === 'string' ? data.realm : undefined;
      if (realm !== undefined) {
        const account = store.findAccountByRealm(realm);
        candidates = account ? [account] : [];
      } else if (typeof data.account_name === 'string') {
        candidates = store.findAccountsByName(data.account_name);
      }
      const wanted = String(credentials).toLowerCase();
      for (const account of candidates) {
        const user = store
          .listUsers(account.id)
          .find((u) => (method === 'sha' ? u.pvt_sha1_auth : u.pvt_md5_auth) === wanted && u.enabled !== false);
        if (user) return respond(req, res, account, user, 'user_auth');
      }
      throw invalidCredentials();
    })
    .all(methodNotAllowedFor);

  // The token in the path is the proof (Monster checks a stored token with it before reusing it).
  router
    .route('/user_auth/:token')
    .get((req, res) => {
      const token = String(req.params.token);
      const claims = tokens.verify(token);
      const account = claims && store.getAccount(claims.account_id);
      if (!claims || !account) throw badToken();
      checkEnabled(account);
      contextOf(req).authToken = token;
      sendSuccess(req, res, authData(account, claims.owner_id ? store.getUser(account.id, claims.owner_id) : undefined));
    })
    .all(methodNotAllowedFor);

  router
    .route('/token_auth')
    .get(requireAuth, (req, res) => {
      const claims = claimsFrom(res);
      sendSuccess(req, res, { account_id: claims.account_id, owner_id: claims.owner_id, method: claims.method, exp: claims.exp });
    })
    .delete(requireAuth, async (req, res) => {
      try {
        await tokens.revoke(claimsFrom(res));
      } catch (err) {
        if (err instanceof RevocationListFullError) throw new KazooError(503, 'revocation_list_full', { message: err.message });
        throw err;
      }
      sendSuccess(req, res, {});
    })
    .all(methodNotAllowedFor);

  return router;
}
