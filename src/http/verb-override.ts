import type { NextFunction, Request, Response } from 'express';
import { methodNotAllowed } from './errors.js';
import { envelopeOf } from './request-body.js';

const VERBS = new Set(['GET', 'PUT', 'POST', 'PATCH', 'DELETE']);

/**
 * Crossbar's verb tunnelling (api_util:get_http_verb): a POST carrying `?verb=`, the envelope's `verb` or an
 * `X-HTTP-Method-Override` header is handled as that method, so a client that can only POST still PATCHes
 * (merge, not replace) or DELETEs. Only a POST is tunnelled: a GET link must never delete anything.
 */
export function verbOverride(req: Request, _res: Response, next: NextFunction): void {
  if (req.method !== 'POST') return next();
  const fromQuery = typeof req.query.verb === 'string' ? req.query.verb : undefined;
  const envelope = envelopeOf(req).verb;
  const wanted = fromQuery ?? (typeof envelope === 'string' ? envelope : undefined) ?? req.get('x-http-method-override');
  if (wanted === undefined || wanted === '') return next();
  const verb = wanted.trim().toUpperCase();
  if (!VERBS.has(verb)) return next(methodNotAllowed());
  req.method = verb;
  next();
}
