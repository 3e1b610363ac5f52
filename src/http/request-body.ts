import type { Request } from 'express';

/**
 * The Kazoo request envelope as a route reads it: `{"data": …}` plus the few top-level keys the seed's clients
 * send beside it (action, reboot). jsonBody (./body.ts) has parsed it; this only gives it a type, so a route
 * never casts `req.body` itself. Anything that is not a JSON object reads as an empty envelope.
 */
export interface RequestEnvelope {
  data?: unknown;
  action?: unknown;
  reboot?: unknown;
  /** Verb tunnelling for clients that can only POST (src/http/verb-override.ts). */
  verb?: unknown;
  /** A token sent in the body (src/http/request-context.ts). */
  auth_token?: unknown;
}

export function envelopeOf(req: Request): RequestEnvelope {
  const body: unknown = req.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as RequestEnvelope) : {};
}

/** The envelope's data when it is a JSON object (the usual case), else undefined. */
export function dataObjectOf(req: Request): Record<string, unknown> | undefined {
  const data = envelopeOf(req).data;
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
}

/** The query string as parsed by express's extended parser: values are strings, arrays or objects. */
export function queryOf(req: Request): Record<string, unknown> {
  return req.query as Record<string, unknown>;
}
