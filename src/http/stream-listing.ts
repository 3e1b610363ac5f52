import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { addColumns, csvLine, flatRow } from './csv.js';
import { completeEnvelope, sendSuccess, setCsvHeaders, setEnvelopeHeaders, successBody, wantsCsvListing } from './envelope.js';
import { yieldToLoop, type Stopped } from '../listing/slices.js';

/** A listing's revision, as Kazoo's automatic list ETag: md5 of the rows' JSON; none for an empty list. */
export function listRevision(rows: unknown[]): string | undefined {
  return rows.length ? createHash('md5').update(JSON.stringify(rows)).digest('hex') : undefined;
}

export interface ListingAnswer {
  count: number;
  /** Row i of the answer (built again when asked again: rows are cheap, their 16 MB of JSON is not kept). */
  rowAt(index: number): unknown;
  /** page_size, start_key, next_start_key. */
  extra?: Record<string, unknown>;
  /** Rows handled between two turns of the loop; an answer of at most this many rows is sent at once. */
  sliceSize: number;
  stopped: Stopped;
}

/**
 * Sends a listing's success envelope (or CSV), the same bytes and headers as sendSuccess with the rows and
 * their listRevision. A long one is streamed in slices that yield to the loop, and its writes wait for the
 * socket to drain: a first pass over the rows makes the revision, the ETag and Content-Length (JSON) or the
 * columns (CSV), which come before the rows; the second writes them. Stops when the client leaves.
 */
export async function sendListing(req: Request, res: Response, answer: ListingAnswer): Promise<void> {
  if (answer.count <= answer.sliceSize) {
    const rows = Array.from({ length: answer.count }, (_, i) => answer.rowAt(i));
    return sendSuccess(req, res, rows, { extra: answer.extra, revision: listRevision(rows) });
  }
  if (wantsCsvListing(req)) return streamCsv(req, res, answer);
  return streamJson(req, res, answer);
}

/** Watches a response for its client leaving before it is complete. */
export function clientGone(res: Response): Stopped {
  let gone = false;
  res.once('close', () => {
    if (!res.writableFinished) gone = true;
  });
  return () => gone || res.destroyed;
}

/** Visits rows [0, count) in slices, yielding between them; false when stopped. */
async function inSlices(answer: ListingAnswer, visit: (from: number, to: number) => void | Promise<void>): Promise<boolean> {
  for (let from = 0; from < answer.count; from += answer.sliceSize) {
    if (from > 0) {
      await yieldToLoop();
      if (answer.stopped()) return false;
    }
    await visit(from, Math.min(from + answer.sliceSize, answer.count));
  }
  return !answer.stopped();
}

async function streamJson(req: Request, res: Response, answer: ListingAnswer): Promise<void> {
  const hash = createHash('md5').update('[');
  let rowBytes = 0;
  const measured = await inSlices(answer, (from, to) => {
    for (let i = from; i < to; i++) {
      const json = rowJson(answer.rowAt(i));
      hash.update(i ? `,${json}` : json);
      rowBytes += Buffer.byteLength(json);
    }
  });
  if (!measured) return abandon(res);
  const revision = hash.update(']').digest('hex');
  const { head, tail } = envelopeAround(completeEnvelope(req, successBody(res, undefined, { extra: answer.extra, revision })));
  setEnvelopeHeaders(req, res, 200);
  if (req.fresh) return notModified(res);
  res.setHeader('Content-Length', Buffer.byteLength(head) + rowBytes + (answer.count - 1) + Buffer.byteLength(tail));
  if (req.method === 'HEAD') return void res.end();
  await write(res, head);
  const sent = await inSlices(answer, async (from, to) => {
    const rows: string[] = [];
    for (let i = from; i < to; i++) rows.push(rowJson(answer.rowAt(i)));
    await write(res, from ? `,${rows.join(',')}` : rows.join(','));
  });
  if (!sent) return abandon(res);
  res.end(tail);
}

async function streamCsv(req: Request, res: Response, answer: ListingAnswer): Promise<void> {
  const columns: string[] = [];
  const seen = new Set<string>();
  const measured = await inSlices(answer, (from, to) => {
    for (let i = from; i < to; i++) addColumns(columns, seen, flatRow(answer.rowAt(i)));
  });
  if (!measured) return abandon(res);
  setCsvHeaders(req, res, 200);
  if (req.method === 'HEAD') return void res.end();
  await write(res, `${csvLine(columns)}\r\n`);
  const sent = await inSlices(answer, async (from, to) => {
    let lines = '';
    for (let i = from; i < to; i++) lines += `${csvLine(columns, flatRow(answer.rowAt(i)))}\r\n`;
    await write(res, lines);
  });
  if (!sent) return abandon(res);
  res.end();
}

/** JSON.stringify of one array element (undefined is null inside an array). */
function rowJson(row: unknown): string {
  return JSON.stringify(row) ?? 'null';
}

/**
 * The completed envelope's text before and after its data array's items: `{…,"data":[` and `],…}`, exactly
 * as JSON.stringify writes the whole object.
 */
function envelopeAround(envelope: Record<string, unknown>): { head: string; tail: string } {
  const before: string[] = [];
  const after: string[] = [];
  let inData = false;
  for (const [key, value] of Object.entries(envelope)) {
    if (key === 'data') {
      inData = true;
      continue;
    }
    const text = JSON.stringify(value);
    if (text === undefined) continue;
    (inData ? after : before).push(`${JSON.stringify(key)}:${text}`);
  }
  return { head: `{${[...before, '"data":['].join(',')}`, tail: `]${after.map((part) => `,${part}`).join('')}}` };
}

/** A write that waits while the socket's buffer is full (or until the client leaves). */
function write(res: Response, chunk: string): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** As express's send for a fresh conditional GET. */
function notModified(res: Response): void {
  res.status(304);
  res.removeHeader('Content-Type');
  res.removeHeader('Content-Length');
  res.end();
}

/** The client left (or the answer cannot complete): free the socket without writing more. */
function abandon(res: Response): void {
  if (!res.destroyed) res.destroy();
}
