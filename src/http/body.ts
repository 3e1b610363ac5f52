import express, { type NextFunction, type Request, type Response } from 'express';
import { KazooError } from './errors.js';

/**
 * Parses every request body as JSON whatever its Content-Type (Kazoo accepts none, JSON and curl's
 * form-urlencoded default), and turns parser failures into Kazoo's envelopes: 400 for bad JSON,
 * 413 for oversized bodies, 415 for an unusable charset.
 */
export function jsonBody(limitBytes: number) {
  const parseJson = express.json({ type: () => true, limit: limitBytes, strict: false });
  const parseText = express.text({ type: () => true, limit: limitBytes });
  return (req: Request, res: Response, next: NextFunction) => {
    // text/plain is what fetch() sends for a string body, and also how a template is uploaded raw:
    // JSON text is the usual envelope; anything else stays a string for the route that wants raw text.
    const textual = Boolean(req.is(['text/*', 'application/octet-stream']));
    (textual ? parseText : parseJson)(req, res, (err?: unknown) => {
      if (!err && textual) {
        const text = typeof req.body === 'string' ? req.body : '';
        if (!/^\s*[[{]/.test(text)) {
          req.body = text.trim() ? text : {};
          next();
          return;
        }
        try {
          req.body = JSON.parse(text) as unknown;
        } catch (parseError) {
          next(new KazooError(400, 'validation error', { json: { invalid: { message: (parseError as Error).message, target: 'body' } } }));
          return;
        }
      }
      if (!err) {
        if (req.body === undefined || req.body === null) req.body = {};
        const body = req.body as unknown;
        if (typeof body !== 'object' || Array.isArray(body)) {
          next(new KazooError(400, 'validation error', { json: { invalid: { message: 'request body must be a JSON object envelope', target: 'body' } } }));
          return;
        }
        const data = (body as { data?: unknown }).data;
        if (data !== undefined && (data === null || typeof data !== 'object')) {
          next(new KazooError(400, 'validation error', { data: { type: { message: 'Value did not match type(s): object, array', target: ['object', 'array'], value: data } } }));
          return;
        }
        next();
        return;
      }
      const e = err as { type?: string; message?: string };
      if (e.type === 'entity.too.large') {
        next(new KazooError(413, 'request_entity_too_large', { message: `request body larger than ${limitBytes} bytes` }));
      } else if (e.type === 'entity.parse.failed') {
        next(new KazooError(400, 'validation error', { json: { invalid: { message: e.message ?? 'invalid JSON', target: 'body' } } }));
      } else if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
        next(new KazooError(415, 'unsupported_media_type', { message: e.message ?? 'unsupported encoding' }));
      } else {
        next(new KazooError(400, 'validation error', { json: { invalid: { message: e.message ?? 'unreadable body', target: 'body' } } }));
      }
    });
  };
}
