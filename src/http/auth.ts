import type { NextFunction, Request, Response } from 'express';
import type { TokenClaims, TokenService } from '../auth/tokens.js';
import type { AccountDoc } from '../domain/types.js';
import type { Store } from '../store/store.js';
import { contextOf } from './envelope.js';
import { badIdentifier, badToken, forbidden, invalidCredentials, malformedAccountId } from './errors.js';
import { tokenFrom } from './request-context.js';

export interface AuthLocals {
  auth?: TokenClaims;
  account?: AccountDoc;
}

/**
 * Reads the token if one was sent. A token that is present but forged, expired or revoked is a 401
 * straight away (Kazoo's early authenticate); a missing token is only an error where a route needs one.
 */
export function readToken(tokens: TokenService) {
  return (req: Request, res: Response, next: NextFunction) => {
    const token = tokenFrom(req);
    if (!token) return next();
    const claims = tokens.verify(token);
    if (!claims) return next(badToken());
    (res.locals as AuthLocals).auth = claims;
    contextOf(req).authToken = token;
    next();
  };
}

export function requireAuth(req: Request, res: Response, next: NextFunction): void {
  next((res.locals as AuthLocals).auth ? undefined : invalidCredentials());
}

/** True when the token's account may act on `target`: itself, a descendant, or anything for the master. */
export function mayActOn(store: Store, claims: TokenClaims, target: AccountDoc): boolean {
  if (claims.account_id === target.id || target.pvt_tree.includes(claims.account_id)) return true;
  return store.masterAccount()?.id === claims.account_id;
}

/**
 * For every /v2/accounts/:accountId/... route: the id must be well formed (404) and exist (404
 * bad_identifier), the caller authenticated (401) and allowed on that account (403).
 */
export function loadAccount(store: Store) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = String(req.params.accountId ?? '');
    if (!/^[0-9a-f]{32}$/.test(id)) {
      return next(malformedAccountId(id));
    }
    const account = store.getAccount(id);
    if (!account) return next(badIdentifier(id));
    const claims = (res.locals as AuthLocals).auth;
    if (!claims) return next(invalidCredentials());
    const own = store.getAccount(claims.account_id);
    if (!own) return next(badToken());
    if (!mayActOn(store, claims, account)) return next(forbidden());
    (res.locals as AuthLocals).account = account;
    next();
  };
}
