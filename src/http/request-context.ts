import type { NextFunction, Request, Response } from 'express';
import { contextOf } from './envelope.js';
import { envelopeOf } from './request-body.js';

/** Kazoo's CORS headers, so browser UIs (Monster UI) can call the API directly. */
const CORS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS, HEAD, PATCH',
  'Access-Control-Allow-Headers':
    'Content-Type, Depth, User-Agent, X-Http-Method-Override, X-File-Size, X-Requested-With, If-Modified-Since, X-File-Name, Cache-Control, X-Auth-Token, X-Request-ID, If-Match, Authorization, X-Kazoo-Cluster-ID',
  'Access-Control-Expose-Headers': 'Content-Type, X-Auth-Token, X-Request-ID, Location, Etag, ETag',
  'Access-Control-Max-Age': '86400',
};

export function requestContext(req: Request, res: Response, next: NextFunction): void {
  contextOf(req);
  res.set(CORS);
  if (req.method === 'OPTIONS') {
    res.status(200).end();
    return;
  }
  next();
}

/** The token from X-Auth-Token, `Authorization: Bearer`, or `auth_token` in the query or the envelope. */
export function tokenFrom(req: Request): string | undefined {
  const header = req.get('x-auth-token');
  if (header) return header.trim();
  const authorization = req.get('authorization');
  const bearer = authorization && /^Bearer\s+(\S+)$/i.exec(authorization);
  if (bearer) return bearer[1];
  const query = req.query.auth_token;
  if (typeof query === 'string' && query) return query;
  const body = envelopeOf(req);
  if (body && typeof body.auth_token === 'string' && body.auth_token) return body.auth_token;
  return undefined;
}
