import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { KazooError } from './errors.js';
import { toCsv, wantsCsv } from './csv.js';

export const API_VERSION = '4.3.0-compatible';

/** Per-request context the envelope needs; set by the request-context middleware. */
export interface RequestContext {
  requestId: string;
  authToken?: string;
}

export function contextOf(req: Request): RequestContext {
  const ctx = (req as Request & { kazoo?: RequestContext }).kazoo;
  if (ctx) return ctx;
  const created: RequestContext = { requestId: headerRequestId(req) ?? randomUUID().replace(/-/g, '') };
  (req as Request & { kazoo?: RequestContext }).kazoo = created;
  return created;
}

function headerRequestId(req: Request): string | undefined {
  const value = req.get('x-request-id');
  // Echo only sane ids: they end up in a response header.
  return value && /^[\w.:@-]{1,128}$/.test(value) ? value : undefined;
}

export interface SuccessOptions {
  status?: number;
  /** The document revision; omitted for action responses. */
  revision?: string;
  /** Extra top-level envelope keys (page_size, start_key, next_start_key). */
  extra?: Record<string, unknown>;
}

/**
 * Adds what every Kazoo envelope carries (auth_token when authenticated, request_id, timestamp, version),
 * orders the keys as Kazoo does (alphabetically) and sends it.
 */
function sendEnvelope(req: Request, res: Response, status: number, body: Record<string, unknown>): void {
  setEnvelopeHeaders(req, res, status);
  res.send(Buffer.from(JSON.stringify(completeEnvelope(req, body))));
}

/**
 * The envelope as sent: `body` plus what every envelope carries (auth_token when authenticated, request_id,
 * timestamp, version), keys in Kazoo's (alphabetical) order. Shared with the streamed listing
 * (src/http/stream-listing.ts), which writes the same object piece by piece.
 */
export function completeEnvelope(req: Request, body: Record<string, unknown>): Record<string, unknown> {
  const ctx = contextOf(req);
  if (ctx.authToken) body.auth_token = ctx.authToken;
  body.request_id = ctx.requestId;
  body.timestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  body.version = API_VERSION;
  return sortKeys(body);
}

/** Status and headers of a JSON envelope. */
export function setEnvelopeHeaders(req: Request, res: Response, status: number): void {
  res.status(status);
  res.set('X-Request-ID', contextOf(req).requestId);
  // Exactly `application/json`, no charset, as Kazoo sends: Monster UI parses an error body only on that exact
  // type. setHeader and a Buffer keep express from appending `; charset=utf-8`.
  res.setHeader('Content-Type', 'application/json');
}

/** The body of a success envelope before completeEnvelope; sets the ETag when there is a revision. */
export function successBody(res: Response, data: unknown, options: SuccessOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { data, ...options.extra, status: 'success' };
  if (options.revision) {
    body.revision = options.revision;
    res.set('ETag', `"${options.revision}"`);
  }
  return body;
}

/** The one builder of success envelopes. */
export function sendSuccess(req: Request, res: Response, data: unknown, options: SuccessOptions = {}): void {
  if (Array.isArray(data) && wantsCsvListing(req)) return sendCsv(req, res, data, options.status ?? 200);
  sendEnvelope(req, res, options.status ?? 200, successBody(res, data, options));
}

/** Whether a listing is answered as CSV: a GET asking for it. */
export function wantsCsvListing(req: Request): boolean {
  return req.method === 'GET' && wantsCsv(req);
}

/** A listing as CSV (crossbar's to_csv), for `Accept: text/csv` or `?accept=csv`. */
function sendCsv(req: Request, res: Response, rows: unknown[], status: number): void {
  setCsvHeaders(req, res, status);
  res.send(Buffer.from(toCsv(rows)));
}

/** Status and headers of a CSV listing. */
export function setCsvHeaders(req: Request, res: Response, status: number): void {
  res.status(status);
  res.set('X-Request-ID', contextOf(req).requestId);
  res.setHeader('Content-Type', 'text/csv');
  res.set('Content-Disposition', 'attachment; filename="result.csv"');
}

/** The one builder of error envelopes. */
export function sendError(req: Request, res: Response, error: KazooError): void {
  sendEnvelope(req, res, error.status, { data: error.data, error: String(error.status), message: error.message, status: 'error' });
}

function sortKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}
