import type { Request, Response } from 'express';
import type { AccountDoc, DeviceDoc } from '../domain/types.js';
import type { Directory } from '../store/directory.js';
import { badIdentifier } from './errors.js';
import type { AuthLocals } from './auth.js';
import type { TokenClaims } from '../auth/tokens.js';

/** The account of a /v2/accounts/:accountId/... route, as loadAccount checked and stored it. The one reader. */
export function accountFrom(res: Pick<Response, 'locals'>): AccountDoc {
  return (res.locals as Required<AuthLocals>).account;
}

/** The verified token's claims of a route behind requireAuth/loadAccount. */
export function claimsFrom(res: Pick<Response, 'locals'>): TokenClaims {
  return (res.locals as Required<AuthLocals>).auth;
}

/** The device named by `:deviceId` in that account, or Kazoo's 404 bad_identifier with the id as cause. */
export function deviceFrom(req: Request, res: Response, directory: Pick<Directory, 'getDevice'>): DeviceDoc {
  const id = String(req.params.deviceId ?? '');
  const device = directory.getDevice(accountFrom(res).id, id);
  if (!device) throw badIdentifier(id);
  return device;
}
