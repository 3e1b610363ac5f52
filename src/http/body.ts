import express, { type NextFunction, type Request, type Response } from 'express';
import { KazooError } from './errors.js';
import { jsonShapeProblem, MAX_JSON_DEPTH, MAX_JSON_MEMBERS } from './json-depth.js';

const badJson = (message: string) => new KazooError(400, 'validation error', { json: { invalid: { message, target: 'body' } } });

/** JSON is UTF-8, -16 or -32 (RFC 7159 §8.1); a text/* body may use any charset the reader knows. */
function charsetOf(req: Request): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
}

/**
 * The envelope from the body's text: its nesting and its number of members are bounded on the raw text first
 * (one linear scan), so JSON.parse and every later walk of the data only ever see small, shallow documents.
 */
function parseEnvelope(text: string): unknown {
  if (text.length === 0) return {};
  const problem = jsonShapeProblem(text);
  if (problem === 'depth') throw badJson(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (problem === 'members') throw badJson(`JSON with more than ${MAX_JSON_MEMBERS} members and elements`);
  try {
    return JSON.parse(text) as unknown;
  } catch (parseError) {
    throw badJson((parseError as Error).message);
  }
}

function checkEnvelope(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badJson('request body must be a JSON object envelope');
  const data = (body as { data?: unknown }).data;
  if (data !== undefined && (data === null || typeof data !== 'object')) {
    throw new KazooError(400, 'validation error', { data: { type: { message: 'Value did not match type(s): object, array', target: ['object', 'array'], value: data } } });
  }
}

function readError(err: unknown, limitBytes: number): KazooError {
  const e = err as { type?: string; message?: string };
  if (e.type === 'entity.too.large') return new KazooError(413, 'request_entity_too_large', { message: `request body larger than ${limitBytes} bytes` });
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return new KazooError(415, 'unsupported_media_type', { message: e.message ?? 'unsupported encoding' });
  return badJson(e.message ?? 'unreadable body');
}

/**
 * Reads every request body as text whatever its Content-Type and parses it as the JSON envelope (Kazoo
 * accepts none, JSON and curl's form-urlencoded default). Parser failures become Kazoo's envelopes: 400 for
 * bad or too deeply nested JSON, 413 for oversized bodies, 415 for an unusable charset.
 */
export function jsonBody(limitBytes: number) {
  const readText = express.text({ type: () => true, limit: limitBytes });
  return (req: Request, res: Response, next: NextFunction) => {
    // text/plain is what fetch() sends for a string body, and also how a template is uploaded raw:
    // JSON text is the usual envelope; anything else stays a string for the route that wants raw text.
    const textual = Boolean(req.is(['text/*', 'application/octet-stream']));
    const charset = charsetOf(req);
    if (!textual && charset && !charset.startsWith('utf-')) {
      next(new KazooError(415, 'unsupported_media_type', { message: `unsupported charset "${charset.toUpperCase()}"` }));
      return;
    }
    readText(req, res, (err?: unknown) => {
      if (err) return next(readError(err, limitBytes));
      const text = typeof req.body === 'string' ? req.body : '';
      if (textual && !/^\s*[[{]/.test(text)) {
        req.body = text.trim() ? text : {};
        return next();
      }
      try {
        const body = parseEnvelope(text) ?? {};
        checkEnvelope(body);
        req.body = body;
      } catch (error) {
        return next(error);
      }
      next();
    });
  };
}
