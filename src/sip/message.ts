/**
 * SIP message model, parser and serializer for the embedded stack.
 *
 * Why our own instead of npm `sip@0.0.6`'s parser: its parser silently drops headers it fails to parse,
 * turns everything into structured objects that its serializer then re-emits in its own way, and its
 * Content-Length counts UTF-16 code units. Here headers stay as raw ordered strings (exactly what arrived)
 * and are parsed on demand by the small helpers below, bodies are bytes-counted, and parse() never throws:
 * anything it does not understand is reported as `undefined` so the transport drops the datagram.
 */
export interface SipHeaders {
  /** Ordered [name, value] pairs; names as written on the wire (lookups are case-insensitive). */
  list: Array<[string, string]>;
}

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: string;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: string;
}

export type SipMessage = SipRequest | SipResponse;

const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  o: 'event',
};

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
};

export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  const full = COMPACT[lower] ?? lower;
  return CANONICAL[full] ?? full.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/**
 * Header names are looked up a dozen times per request; lower-casing them every time was ~7% of the
 * server's CPU at its REGISTER ceiling. Names come from a small set, so remember them (bounded: hostile
 * senders can invent names, and then we simply stop remembering).
 */
const normalNames = new Map<string, string>();
function normalName(name: string): string {
  let normal = normalNames.get(name);
  if (normal === undefined) {
    const lower = name.toLowerCase();
    normal = COMPACT[lower] ?? lower;
    if (normalNames.size < 2000) normalNames.set(name, normal);
  }
  return normal;
}

/** Headers whose comma-separated values are separate entries (RFC 3261 §7.3.1) and that we need split. */
const SPLITTABLE = new Set(['via', 'contact', 'route', 'record-route']);

export function headerValues(headers: SipHeaders, name: string): string[] {
  const wanted = normalName(name);
  const out: string[] = [];
  for (const [n, v] of headers.list) {
    if (normalName(n) !== wanted) continue;
    if (SPLITTABLE.has(wanted)) out.push(...splitCommas(v));
    else out.push(v);
  }
  return out;
}

export function header(headers: SipHeaders, name: string): string | undefined {
  return headerValues(headers, name)[0];
}

export function setHeader(headers: SipHeaders, name: string, value: string): void {
  const wanted = normalName(name);
  headers.list = headers.list.filter(([n]) => normalName(n) !== wanted);
  headers.list.push([canonicalName(name), value]);
}

export function makeHeaders(pairs: Array<[string, string | number | undefined]>): SipHeaders {
  const list: Array<[string, string]> = [];
  for (const [n, v] of pairs) if (v !== undefined) list.push([n, String(v)]);
  return { list };
}

/**
 * A request with the six headers every request carries (RFC 3261 §8.1.1), in the usual order, then
 * `extra`. One builder for NOTIFY, INVITE, CANCEL, ACK and in-dialog requests.
 */
export function buildRequest(
  method: string,
  uri: string,
  h: { via: string | undefined; from: string | undefined; to: string | undefined; callId: string | undefined; cseq: number | string },
  extra: Array<[string, string | number | undefined]> = [],
  body = '',
): SipRequest {
  const cseq = typeof h.cseq === 'number' ? `${h.cseq} ${method}` : h.cseq;
  return {
    kind: 'request',
    method,
    uri,
    headers: makeHeaders([['Via', h.via], ['Max-Forwards', 70], ['From', h.from], ['To', h.to], ['Call-ID', h.callId], ['CSeq', cseq], ...extra]),
    body,
  };
}

/** Split on commas that are not inside quotes or angle brackets. */
export function splitCommas(value: string): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '<') depthAngle++;
    else if (!quoted && c === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (!quoted && depthAngle === 0 && c === ',') {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out.filter((s) => s.length > 0);
}

const MAX_DATAGRAM = 65_535;
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/** Parse one datagram. Returns undefined for anything that is not a well-formed SIP message. */
/**
 * A copy of `text` that shares no memory with the datagram it was cut from. V8 keeps a slice of a string as a
 * view on the whole original, so anything kept beyond the transaction (a cache key, a binding's Contact) would
 * otherwise hold a whole, possibly 64 KB, datagram alive.
 */
export function detached(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

export function parseMessage(data: Buffer | string): SipMessage | undefined {
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (buf.length === 0 || buf.length > MAX_DATAGRAM) return undefined;
    const sep = buf.indexOf('\r\n\r\n');
    if (sep < 0) return undefined;
    const head = buf.subarray(0, sep).toString('utf8');
    const rawBody = buf.subarray(sep + 4);
    // Unfold continuation lines (RFC 3261 §7.3.1), then split.
    const lines = head.replace(/^\s+/, '').split(/\r\n(?![ \t])/).map((l) => l.replace(/\r\n[ \t]+/g, ' '));
    const start = lines.shift();
    if (!start) return undefined;
    const headers: SipHeaders = { list: [] };
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) return undefined;
      const name = line.slice(0, colon).trim();
      if (!TOKEN.test(name)) return undefined;
      headers.list.push([name, line.slice(colon + 1).trim()]);
    }
    const lengthHeader = header(headers, 'content-length');
    let body = rawBody;
    if (lengthHeader !== undefined) {
      const n = Number(lengthHeader);
      if (!Number.isInteger(n) || n < 0) return undefined;
      if (n > rawBody.length) return undefined; // truncated datagram
      body = rawBody.subarray(0, n);
    }
    const bodyText = body.toString('utf8');
    const status = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/.exec(start);
    if (status) {
      return { kind: 'response', status: Number(status[1]), reason: status[2] ?? '', headers, body: bodyText };
    }
    const request = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/.exec(start);
    if (request && request[1] && request[2]) {
      return { kind: 'request', method: request[1].toUpperCase(), uri: request[2], headers, body: bodyText };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

export function serialize(message: SipMessage): Buffer {
  const body = Buffer.from(message.body ?? '', 'utf8');
  const start = message.kind === 'request' ? `${message.method} ${message.uri} SIP/2.0` : `SIP/2.0 ${message.status} ${message.reason}`;
  const lines = [start];
  for (const [n, v] of message.headers.list) {
    if (normalName(n) === 'content-length') continue;
    lines.push(`${canonicalName(n)}: ${v}`);
  }
  lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), body]);
}

// ---- structured views of individual header values -------------------------------------------------

export interface Params {
  [name: string]: string | null;
}

export function parseParams(text: string): Params {
  const params: Params = {};
  for (const part of text.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) params[p.toLowerCase()] = null;
    else params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return params;
}

export function stringifyParams(params: Params): string {
  return Object.entries(params)
    .map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`))
    .join('');
}

export interface NameAddr {
  displayName?: string;
  uri: string;
  params: Params;
}

/** `"Name" <sip:u@h;uparam>;tag=x` or `sip:u@h;tag=x` (params then belong to the header). */
export function parseNameAddr(value: string): NameAddr | undefined {
  const v = value.trim();
  const lt = v.indexOf('<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) return undefined;
    const display = v.slice(0, lt).trim().replace(/^"(.*)"$/, '$1');
    return { displayName: display || undefined, uri: v.slice(lt + 1, gt).trim(), params: parseParams(v.slice(gt + 1)) };
  }
  const semi = v.indexOf(';');
  const uri = semi < 0 ? v : v.slice(0, semi);
  if (!uri) return undefined;
  return { uri, params: parseParams(semi < 0 ? '' : v.slice(semi)) };
}

export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  host: string;
  port?: number;
  params: Params;
}

export function parseUri(uri: string): SipUri | undefined {
  const m = /^(sips?):(?:([^@;?]+)@)?(\[[0-9a-fA-F:.]+\]|[^:;?@>\s]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?.*)?$/i.exec(uri.trim());
  if (!m || !m[3]) return undefined;
  const user = m[2] ? decodeURIComponentSafe(m[2].split(':')[0] ?? '') : undefined;
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { scheme: m[1]!.toLowerCase() as 'sip' | 'sips', user, host: m[3].toLowerCase(), port, params: parseParams(m[5] ?? '') };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface Via {
  transport: string;
  host: string;
  port?: number;
  params: Params;
}

export function parseVia(value: string): Via | undefined {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[0-9a-fA-F:.]+\]|[^\s;:]+)(?:\s*:\s*(\d+))?\s*(.*)$/.exec(value.trim());
  if (!m || !m[1] || !m[2]) return undefined;
  return { transport: m[1].toUpperCase(), host: m[2], port: m[3] ? Number(m[3]) : undefined, params: parseParams(m[4] ?? '') };
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port ? `:${via.port}` : ''}${stringifyParams(via.params)}`;
}

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string | undefined): CSeq | undefined {
  if (!value) return undefined;
  const m = /^(\d{1,10})\s+([A-Za-z]+)$/.exec(value.trim());
  if (!m || !m[1] || !m[2]) return undefined;
  return { seq: Number(m[1]), method: m[2].toUpperCase() };
}

/** `Digest a=b, c="d"` → { scheme, params }: a linear tokenizer of its own (see auth-header.ts). */
export { parseAuthHeader } from '../digest/auth-header.js';

/** Mandatory headers every request and response we act on must carry (RFC 3261 §8.1.1). */
export function hasMandatoryHeaders(message: SipMessage): boolean {
  const h = message.headers;
  const via = header(h, 'via');
  return (
    via !== undefined &&
    parseVia(via) !== undefined &&
    header(h, 'from') !== undefined &&
    header(h, 'to') !== undefined &&
    header(h, 'call-id') !== undefined &&
    parseCSeq(header(h, 'cseq')) !== undefined
  );
}
