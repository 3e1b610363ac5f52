import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { ClientAddress } from '../http/client-address.js';
import type { PhoneDecider, PhoneReply } from './phone-handler.js';
import type { ReplayTicket } from './replay-ticket.js';
import { ownBytes, readShared, type SharedReads } from './shared-reads.js';
import { BAD_VALUE, keepAliveLines, responsePrefix, TOKEN, wireFor } from './wire.js';

/**
 * The lean HTTP/1.1 front for phones fetching config files. node:http's IncomingMessage/ServerResponse machinery
 * costs more per request than our whole lookup-and-render-cache-hit, so simple phone requests (GET/HEAD
 * /provision/…, HTTP/1.0 or 1.1, no body) are parsed here and answered with one Buffer each (status line +
 * headers + body). Everything else — the API, other methods, anything unusual or that this parser does not
 * accept as plainly simple — is handed to the node:http server untouched, bytes included, so it keeps node's
 * battle-tested parser. The decision itself is the same function the node:http transport uses.
 *
 * All input is untrusted: the head is capped (431), header lines must be `token: value` without obs-fold or
 * control characters, a head with a bare LF line ending is handed to node:http (which refuses it at once), a
 * request body (Transfer-Encoding, non-zero or repeated Content-Length) is refused with 400 and the
 * connection closed, and a client must finish each head within `headTimeoutMs` (slowloris) and may sit idle
 * between requests for `idleTimeoutMs`.
 */
export interface FrontDoorOptions {
  /** Largest request head accepted on the lean path (default 8 KiB). */
  maxHeadBytes?: number;
  /** Time allowed to send one complete head, counted from its first byte or the connection (default 10 s). */
  headTimeoutMs?: number;
  /** Keep-alive idle time between requests (default: the server's keepAliveTimeout). */
  idleTimeoutMs?: number;
  /** Clock for the head and idle deadlines (default Date.now; tests move it by hand). */
  now?: () => number;
  /** Answers kept for replay, one per device file (default 250k: every phone of a large install). */
  maxKeptAnswers?: number;
  /**
   * Bytes the kept answers may hold in all (default 128 MiB): their keys and tickets. The files' bytes are not
   * theirs: an answer references the renderer's copy, bounded by the renderer (PROVISION_KEPT_BYTES).
   */
  maxKeptBytes?: number;
  /** Who the client is behind trusted proxies (TRUST_PROXY); default: the socket's peer, headers never read. */
  clientAddress?: ClientAddress;
  /** URLs node:http answers instead (streamed firmware): checked on the request target. */
  handsOff?: (url: string) => boolean;
  /** Told the Connection/Keep-Alive lines this front door answers with (and when they change): files are built with them. */
  onKeepAlive?: (lines: string) => void;
  /** Connections answered per turn of the event loop before the others wait for the next turn (default 16). */
  connectionsPerTurn?: number;
  /** Plain TCP connections read into one shared buffer (shared-reads.ts; default true); false: node's 'data' events. */
  sharedReads?: boolean;
}

/** What the kept answers hold right now (tests, diagnostics). */
export interface KeptStats {
  entries: number;
  /** Key bytes plus a fixed estimate per entry (the ticket and the entry itself). */
  bytes: number;
}

export interface FrontDoor {
  /** Lean connections currently open (tests, diagnostics). */
  readonly connections: number;
  /** Requests answered on the lean path (the rehearsal's included), and connections handed to node:http (tests, diagnostics). */
  readonly served: number;
  /** Of those, answered by replaying a kept answer (tests, diagnostics). */
  readonly replayed: number;
  readonly handedOff: number;
  keptStats(): KeptStats;
  /** Moves whenever an answer is kept or dropped: a saver compares it with what it last wrote. */
  readonly keptChanges: number;
  /** The kept answers, oldest first: their URL keys and tickets (kept-answers-file.ts writes them to disk). */
  answers(): IterableIterator<[string, ReplayTicket]>;
  /** Keeps an answer made by an earlier run (restored from disk) for the URL path `key`, as if it had just been made. */
  restore(key: string, ticket: ReplayTicket): void;
  /** Serves a connection accepted elsewhere as if this server had accepted it (the rehearsal before the port opens). */
  adopt(socket: Socket): void;
  /** Restores the node:http server's own connection handling and closes lean connections. */
  detach(): void;
}

const PREFIX = '/provision/';
/** Request-target: visible ASCII only (node:http would decide anything else; those requests are handed off). */
const TARGET = /^\/provision\/[\x21-\x7e]*$/;
/** Resets and the like: the socket closes right after; there is no one to answer. */
const ignoreError = (): void => undefined;
/** How long a closing connection waits for the client to close its side before it is destroyed. */
const LINGER_MS = 2000;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** A prepared wire with the current Date in it (patched in place at most once a second). */
function dated(wire: { bytes: Buffer; dateAt: number; second: number }): Buffer {
  if (wire.second !== dateSecond) {
    dateBytes.copy(wire.bytes, wire.dateAt);
    wire.second = dateSecond;
  }
  return wire.bytes;
}

/** Date header value (29 bytes, latin1), rebuilt at most once a second (what node:http does too). */
let dateSecond = -1;
let dateValue = '';
const dateBytes = Buffer.alloc(29);
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
    dateBytes.write(dateValue, 0, 'latin1');
  }
  return dateValue;
}

/**
 * The keep-alive response head for one fixed reply (an error answer, a shared file) as bytes, built once: those
 * carry the same header array every time, which keys this memo of a pure function of it. Per request it is copied,
 * with the body, into one fresh buffer and the current Date dropped in at `dateAt`. Rendered device files bring
 * their own prepared wire (head and body in one buffer, wire.ts) and are written without a copy.
 */
interface Wire {
  bytes: Buffer;
  dateAt: number;
  prefix: string;
  keepAlive: string;
}
const wires = new WeakMap<readonly string[], Wire>();
function wireOf(reply: PhoneReply, keepAlive: string): Wire {
  let wire = wires.get(reply.headers);
  if (wire === undefined || wire.keepAlive !== keepAlive) {
    const prefix = responsePrefix(reply.status, reply.headers);
    const head = `${prefix}Date: ${'-'.repeat(29)}\r\n${keepAlive}`;
    const bytes = Buffer.from(head, 'latin1');
    wire = { bytes, dateAt: prefix.length + 6, prefix, keepAlive };
    if (!reply.prepared) wires.set(reply.headers, wire);
  }
  return wire;
}

/**
 * A device file's answer kept per URL (the Map `kept` in createFrontDoor: URL key → ticket), so that the next
 * request for it costs the ticket's re-check and one write: no decision, no header building, no copy. It holds no
 * bytes of its own and no reference to them: the ticket names the renderer's one copy (its wire: head and body in
 * one buffer) and the fingerprint it validated, and the answer lasts while the renderer still holds that copy. The
 * Date is patched in place once a second; a write still queued on another socket may then carry the newer date,
 * which is as valid an answer as the older one (same length, same everything else). The Map holds the ticket
 * itself, no entry object around it: at 100k phones every object a replay passes through is a likely cache miss.
 */

/** The ticket and what it records, and the Map slot: what a kept answer counts besides its key. */
export const KEPT_ENTRY_OVERHEAD = 512;

/** What one kept answer counts against the byte budget. */
const keptEntryBytes = (key: string) => key.length + KEPT_ENTRY_OVERHEAD;

/**
 * The kept-answer key for a request-target: the path without its query string, with the file name (the last
 * segment) lowercased, as the decision lowercases it before matching. The decision never reads the query (a
 * ticket is only made when no HTTP auth is asked, the one place that sees the whole URL), so every query or case
 * variant of one file is answered by one kept entry instead of pinning a copy each. Anything before the file name
 * stays byte-exact: a segment the decision might treat case-sensitively is never merged.
 */
export function keptKey(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  const lower = name.toLowerCase();
  // Phones nearly always ask in lowercase: the path itself is then the key. Joined, it would be a cons string,
  // which the kept-answer Map must flatten (or walk character by character) to hash and compare on every fetch.
  return lower === name ? path : path.slice(0, slash + 1) + lower;
}

/**
 * A string that holds no reference to the one it was cut from: V8 represents a longer slice as a view of its
 * parent, so a kept key cut from a URL would otherwise retain the whole URL, query string included (up to the head
 * limit), where the byte budget counts only the key.
 */
function ownCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** One request head the lean path accepts, or why not. */
type Parsed =
  | {
      kind: 'ok';
      method: 'GET' | 'HEAD';
      url: string;
      userAgent: string | undefined;
      authorization: string | undefined;
      /** Host header value (rendered defaults such as the provisioning URL come from it). */
      hostValue: string | undefined;
      /** X-Forwarded-For, duplicates joined with commas (as node:http joins them). */
      forwardedFor: string | undefined;
      keepAlive: boolean;
    }
  | { kind: 'handoff' }
  | { kind: 'error'; status: 400 | 431 };

const HANDOFF: Parsed = { kind: 'handoff' };
const BAD_REQUEST: Parsed = { kind: 'error', status: 400 };

/** Where a field's value begins: after `from`, past SP/HTAB (loops: a regex replace here costs more than the rest). */
function valueFrom(field: string, from: number): number {
  let a = from;
  while (a < field.length && (field.charCodeAt(a) === 32 || field.charCodeAt(a) === 9)) a++;
  return a;
}

/** Where a field's value ends, trailing SP/HTAB left out. */
function valueTo(field: string, from: number): number {
  let b = field.length;
  while (b > from && (field.charCodeAt(b - 1) === 32 || field.charCodeAt(b - 1) === 9)) b--;
  return b;
}

/** Whether `buf` has an LF not preceded by CR at or after `from`; `headStart` is where the head begins. */
function bareLf(buf: Buffer, from: number, headStart: number): boolean {
  for (let i = buf.indexOf(0x0a, from); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (i === headStart || buf[i - 1] !== 0x0d) return true;
  }
  return false;
}

/**
 * Parses the head in `buf` from `start` to `end` (request line and header lines, without the final blank line).
 * The URL, Host and User-Agent are cut from `buf` itself, not from the head's string: a cut of a string is a view
 * of it (V8 sliced string), and every comparison or Map lookup of a view leaves the builtins for the runtime; these
 * three are looked up and compared on every replay (at 100k phones, 12% of a replay's CPU went to such calls).
 */
function parseHead(buf: Buffer, start: number, end: number): Parsed {
  const head = buf.toString('latin1', start, end);
  const own = (from: number, to: number) => buf.toString('latin1', start + from, start + to);
  let eol = head.indexOf('\r\n');
  if (eol < 0) eol = head.length;
  // Request line: exactly METHOD SP target SP version; anything else is node:http's business.
  const line = head.slice(0, eol);
  let method: 'GET' | 'HEAD';
  let rest: string;
  if (line.startsWith('GET ')) {
    method = 'GET';
    rest = line.slice(4);
  } else if (line.startsWith('HEAD ')) {
    method = 'HEAD';
    rest = line.slice(5);
  } else return HANDOFF;
  const sp = rest.indexOf(' ');
  if (sp < 0) return HANDOFF;
  const urlAt = eol - rest.length;
  const url = own(urlAt, urlAt + sp);
  const version = rest.slice(sp + 1);
  if ((version !== 'HTTP/1.1' && version !== 'HTTP/1.0') || !url.startsWith(PREFIX) || !TARGET.test(url)) return HANDOFF;
  const http11 = version === 'HTTP/1.1';

  let userAgent: string | undefined;
  let authorization: string | undefined;
  let forwardedFor: string | undefined;
  let close = false;
  let keepAliveToken = false;
  let host = false;
  let hostValue: string | undefined;
  let contentLength = false;
  let pos = eol + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    const fieldAt = pos;
    const field = head.slice(pos, end);
    pos = end + 2;
    const colon = field.indexOf(':');
    // No colon, an empty or non-token name (which includes obs-fold's leading SP/HTAB): malformed.
    if (colon <= 0) return BAD_REQUEST;
    const name = field.slice(0, colon);
    if (!TOKEN.test(name)) return BAD_REQUEST;
    const valueAt = valueFrom(field, colon + 1);
    const valueEnd = valueTo(field, valueAt);
    const value = field.slice(valueAt, valueEnd);
    if (BAD_VALUE.test(value)) return BAD_REQUEST;
    switch (name.length) {
      // Dispatch on length first: most lines are neither of the few names that matter here.
      case 4:
        if (name.toLowerCase() === 'host') {
          host = true;
          hostValue ??= own(fieldAt + valueAt, fieldAt + valueEnd);
        }
        break;
      case 6:
        // Expect (100-continue, or anything) is left to node:http, which knows the interim responses.
        if (name.toLowerCase() === 'expect') return HANDOFF;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') return HANDOFF;
        break;
      case 10: {
        const lower = name.toLowerCase();
        if (lower === 'user-agent') userAgent ??= own(fieldAt + valueAt, fieldAt + valueEnd); // node:http keeps the first of duplicates
        else if (lower === 'connection') {
          for (const token of value.toLowerCase().split(',')) {
            const t = token.trim();
            if (t === 'close') close = true;
            else if (t === 'keep-alive') keepAliveToken = true;
          }
        }
        break;
      }
      case 13:
        if (name.toLowerCase() === 'authorization') authorization ??= value;
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 14:
        // A phone's GET has no body; anything announcing one is refused rather than framed (no smuggling surface).
        // A repeated Content-Length, even `0` twice, is refused as node:http refuses it.
        if (name.toLowerCase() === 'content-length') {
          if (value !== '0' || contentLength) return BAD_REQUEST;
          contentLength = true;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return BAD_REQUEST;
        break;
    }
  }
  // node:http (requireHostHeader) refuses an HTTP/1.1 request without Host with 400; so does this path.
  if (http11 && !host) return BAD_REQUEST;
  const keepAlive = !close && (http11 || keepAliveToken);
  return { kind: 'ok', method, url, userAgent, authorization, hostValue, forwardedFor, keepAlive };
}

/**
 * Takes over the node:http server's 'connection' handling: each new socket is read here first, and sockets whose
 * request is not a simple phone fetch are passed on to node:http's own connection listener with the bytes read so
 * far put back. server.close()/closeIdleConnections()/closeAllConnections() also close lean connections.
 * On an https.Server, 'connection' is TLS's own (it wraps the TCP socket); node:http's listener is on
 * 'secureConnection', with the decrypted TLSSocket, so that is the one taken over there.
 */
export function attachPhoneFrontDoor(server: Server, decide: PhoneDecider, options: FrontDoorOptions = {}): FrontDoor {
  const maxHead = options.maxHeadBytes ?? 8 * 1024;
  const clientAddress = options.clientAddress;
  const headTimeout = options.headTimeoutMs ?? 10_000;
  const clock = options.now ?? Date.now;
  const idleTimeoutOf = () => options.idleTimeoutMs ?? server.keepAliveTimeout;
  let keepAliveFor = -1;
  let keepAliveText = '';
  const keepAliveHeader = () => {
    const idle = idleTimeoutOf();
    if (idle !== keepAliveFor) {
      keepAliveFor = idle;
      keepAliveText = keepAliveLines(idle);
      options.onKeepAlive?.(keepAliveText);
    }
    return keepAliveText;
  };

  const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
  const nodeListeners = server.listeners(event) as Array<(socket: Socket) => void>;
  server.removeAllListeners(event);

  interface Conn {
    socket: Socket;
    /** Its reads land in the shared buffer (shared-reads.ts): what is kept past a read is copied. */
    reads: SharedReads | undefined;
    /** The peer's address, read once (socket.remoteAddress is a getter over getpeername). */
    address: string;
    /** The peer is a trusted proxy: each request's client comes from its X-Forwarded-For. */
    proxied: boolean;
    /** The unanswered bytes read so far: never a view of the shared read buffer between reads. */
    buf: Buffer | undefined;
    /** Bytes at the start of a partial head in `buf` already checked for bare LFs (each byte is looked at once). */
    scanned: number;
    /** ms since epoch after which the connection is cut (head or idle deadline). */
    deadline: number;
    /** Waiting for 'drain' before reading on. */
    blocked: boolean;
    /** In the queue for the next turn of the loop (a complete head read, this turn's answers given). */
    waiting: boolean;
    done: boolean;
    onData(data: Buffer): void;
    onDrain(): void;
    onEnd(): void;
    onClose(): void;
  }
  const conns = new Set<Conn>();
  const kept = new Map<string, ReplayTicket>();
  const maxKept = options.maxKeptAnswers ?? 250_000;
  const maxKeptBytes = options.maxKeptBytes ?? 128 * 1024 * 1024;
  let keptBytes = 0;
  let keptChanges = 0;
  let served = 0;
  let replayed = 0;
  let handedOff = 0;

  // Answers per turn of the loop. libuv (1.45 and later) accepts one connection per turn, and a turn answered every
  // connection that had sent a request: with 50 busy connections, a phone connecting meanwhile waited one such turn
  // for each connection queued before it (after a start, the last of 50 new connections had its first answer after
  // 110-170 ms). Past the budget a connection waits for the next turn, first come first served, so new ones get in.
  // 10k walks, 50 new wrk connections, 4 runs each: cold p99 25-65 ms at 8 or 16 per turn, 79-108 ms at 32 or
  // unbounded; the walks after it 3-8 ms against 5-17 ms; throughput the same within noise.
  const perTurn = Math.max(1, options.connectionsPerTurn ?? 16);
  let servedThisTurn = 0;
  let turnScheduled = false;
  const waiting: Conn[] = [];
  let waitingFrom = 0;

  /** A connection has a head to answer: now, if this turn has room and no one waits before it; else next turn. */
  function ready(c: Conn): void {
    if (waitingFrom === waiting.length && servedThisTurn < perTurn) {
      servedThisTurn++;
      scheduleTurn();
      serve(c);
      return;
    }
    if (!c.waiting) {
      c.waiting = true;
      waiting.push(c);
    }
    scheduleTurn();
  }

  function scheduleTurn(): void {
    if (turnScheduled) return;
    turnScheduled = true;
    setImmediate(nextTurn);
  }

  /** After this turn's I/O (setImmediate): a new budget, spent on those waiting first. */
  function nextTurn(): void {
    turnScheduled = false;
    servedThisTurn = 0;
    while (waitingFrom < waiting.length && servedThisTurn < perTurn) {
      const c = waiting[waitingFrom++]!;
      c.waiting = false;
      if (c.done || c.blocked || c.buf === undefined) continue;
      servedThisTurn++;
      serve(c);
    }
    if (waitingFrom === waiting.length) {
      waiting.length = 0;
      waitingFrom = 0;
    } else {
      scheduleTurn();
    }
  }

  // One coarse sweep instead of a timer per connection: re-arming a timer per request costs more than the check.
  let sweeper: NodeJS.Timeout | undefined;
  const sweepEvery = Math.max(5, Math.min(headTimeout, 1000) / 4);
  function ensureSweeper(): void {
    if (sweeper) return;
    sweeper = setInterval(() => {
      const now = clock();
      for (const c of conns) if (now >= c.deadline) timedOut(c);
      if (conns.size === 0) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
    }, sweepEvery);
    sweeper.unref();
  }

  function timedOut(c: Conn): void {
    if (c.buf && c.buf.length > 0 && !c.blocked) {
      // A head begun and never finished (slowloris): say so, like node:http's headersTimeout, and close.
      finish(c, errorResponse(408, 'Request Timeout'));
    } else {
      c.done = true;
      conns.delete(c);
      c.socket.destroy();
    }
  }

  function errorResponse(status: number, text: string): Buffer {
    const body = `${text}\n`;
    return Buffer.from(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
        `Cache-Control: no-store\r\nDate: ${httpDate()}\r\nConnection: close\r\n\r\n${body}`,
      'latin1',
    );
  }

  /** Writes the last response and closes our side once it is flushed; nothing more is read. */
  function finish(c: Conn, last: Buffer): void {
    c.done = true;
    c.buf = undefined;
    conns.delete(c);
    const { socket } = c;
    socket.end(last);
    // Like node:http's destroySoon, but lingering: destroying at once while the client's further bytes sit unread
    // would answer them with a RST that can discard this very response before the client reads it.
    socket.once('finish', () => setTimeout(() => socket.destroy(), LINGER_MS).unref());
  }

  function handOff(c: Conn, rest: Buffer | undefined): void {
    handedOff++;
    c.done = true;
    conns.delete(c);
    const { socket } = c;
    c.reads?.release();
    socket.removeListener('data', c.onData);
    socket.removeListener('drain', c.onDrain);
    socket.removeListener('end', c.onEnd);
    socket.removeListener('close', c.onClose);
    socket.removeListener('error', ignoreError);
    socket.pause();
    if (rest && rest.length > 0) socket.unshift(ownBytes(rest));
    for (const l of nodeListeners) l.call(server, socket);
    // node:http's listener attaches its own 'data' listener; make sure the stream flows again (paused above).
    socket.resume();
  }

  function unkeep(key: string): void {
    if (!kept.delete(key)) return;
    keptBytes -= keptEntryBytes(key);
    keptChanges++;
  }

  function keep(key: string, ticket: ReplayTicket): void {
    const bytes = keptEntryBytes(key);
    if (bytes > maxKeptBytes) return;
    unkeep(key);
    // Oldest-kept out: no LRU bookkeeping on the hit path; an evicted phone is decided anew next time.
    while (kept.size > 0 && (kept.size >= maxKept || keptBytes + bytes > maxKeptBytes)) {
      unkeep(kept.keys().next().value!);
    }
    kept.set(key, ticket);
    keptBytes += bytes;
    keptChanges++;
  }

  /** Answers every complete head in the buffer, in order, until the buffer is empty, partial, or the socket is full. */
  function serve(c: Conn): void {
    const { socket } = c;
    const buf = c.buf!;
    // One reading of the clocks for every head of this buffer: a serve takes microseconds, the deadlines are seconds
    // and the Date has a resolution of one; four readings per replay were 2% of its CPU.
    const now = clock();
    httpDate();
    let start = 0;
    while (!c.done) {
      if (start >= buf.length) {
        c.buf = undefined;
        c.deadline = now + idleTimeoutOf();
        return;
      }
      const end = buf.indexOf(CRLFCRLF, start);
      if (end < 0 || end - start + 4 > maxHead) {
        if (end >= 0 || buf.length - start > maxHead) {
          // Too large: a request line that is not a phone fetch still belongs to node:http (its own limits apply).
          const firstLine = buf.indexOf('\r\n', start);
          const line = firstLine >= 0 && firstLine - start <= maxHead ? parseHead(buf, start, firstLine) : HANDOFF;
          if (line.kind === 'handoff') return handOff(c, buf.subarray(start));
          return finish(c, errorResponse(431, 'Request Header Fields Too Large'));
        }
        // A bare LF ends no line here; node:http refuses it at once, where waiting for CRLFCRLF would end in a 408.
        if (bareLf(buf, start === 0 ? c.scanned : start, start)) return handOff(c, buf.subarray(start));
        // Partial head: keep it; its deadline started with its first byte.
        c.buf = start === 0 ? buf : buf.subarray(start);
        c.scanned = c.buf.length;
        return;
      }
      const parsed = parseHead(buf, start, end);
      if (parsed.kind === 'handoff' || (parsed.kind === 'ok' && options.handsOff?.(parsed.url))) return handOff(c, buf.subarray(start));
      if (parsed.kind === 'error') return finish(c, errorResponse(parsed.status, STATUS_CODES[parsed.status]!));
      start = end + 4;
      c.deadline = now + headTimeout;
      const address = c.proxied ? clientAddress!.of(c.address, parsed.forwardedFor) : c.address;
      const replayable = parsed.keepAlive && parsed.method === 'GET';

      let out: Buffer | undefined;
      const key = replayable ? keptKey(parsed.url) : '';
      if (replayable) {
        const ticket = kept.get(key);
        if (ticket !== undefined) {
          const file = ticket.file();
          if (file !== undefined && file.wire.keepAlive === keepAliveHeader() && ticket.replay(parsed.userAgent ?? '', address, parsed.hostValue)) {
            out = dated(file.wire);
            replayed++;
          } else {
            unkeep(key);
          }
        }
      }

      if (out === undefined) {
        let reply: PhoneReply;
        let wire: Wire | undefined;
        try {
          reply = decide({
            method: parsed.method,
            url: parsed.url,
            headers: { 'user-agent': parsed.userAgent, authorization: parsed.authorization, host: parsed.hostValue },
            remoteAddress: address,
          });
          if (!(replayable && reply.prepared)) wire = wireOf(reply, keepAliveHeader());
        } catch {
          return finish(c, errorResponse(500, 'Internal Server Error'));
        }
        if (replayable && reply.prepared) {
          // A rendered file: its own wire (head and body in one buffer), the Date patched in, written as is.
          const prepared = wireFor(reply.prepared, keepAliveHeader());
          out = dated(prepared);
          if (reply.reuse) keep(ownCopy(key), reply.reuse);
        } else if (replayable) {
          // The prepared head and the body behind each other, the Date patched in, one write.
          const { bytes } = wire!;
          out = Buffer.allocUnsafe(bytes.length + reply.body.length);
          bytes.copy(out, 0);
          dateBytes.copy(out, wire!.dateAt);
          reply.body.copy(out, bytes.length);
        } else {
          const w = wire!;
          const head = `${w.prefix}Date: ${dateValue}\r\n${parsed.keepAlive ? w.keepAlive : 'Connection: close\r\n\r\n'}`;
          const bodyLength = parsed.method === 'HEAD' ? 0 : reply.body.length;
          out = Buffer.allocUnsafe(head.length + bodyLength);
          out.write(head, 0, 'latin1');
          if (bodyLength > 0) reply.body.copy(out, head.length);
        }
      }
      served++;
      if (!parsed.keepAlive) return finish(c, out);
      if (!socket.write(out)) {
        // Backpressure: stop reading until the client has taken what is queued.
        c.blocked = true;
        c.buf = start < buf.length ? buf.subarray(start) : undefined;
        c.scanned = 0;
        c.deadline = now + idleTimeoutOf();
        socket.pause();
        return;
      }
    }
  }

  function onConnection(socket: Socket): void {
    const peer = socket.remoteAddress ?? '';
    const c: Conn = {
      socket,
      reads: undefined,
      address: peer,
      proxied: clientAddress?.trusts(peer) ?? false,
      buf: undefined,
      scanned: 0,
      deadline: clock() + headTimeout,
      blocked: false,
      waiting: false,
      done: false,
      onData: () => undefined,
      onDrain: () => undefined,
      onEnd: () => undefined,
      onClose: () => undefined,
    };
    c.onData = (data: Buffer) => {
      if (c.done) return;
      if (c.buf === undefined) {
        c.buf = data;
        c.scanned = 0;
        c.deadline = clock() + headTimeout; // a new head begins
      } else {
        c.buf = Buffer.concat([c.buf, data]);
      }
      if (!c.blocked) ready(c);
      // Left for a later turn, a partial head, or waiting for 'drain': the next read may overwrite a shared buffer.
      if (c.buf !== undefined) c.buf = ownBytes(c.buf);
    };
    c.onDrain = () => {
      if (c.done || !c.blocked) return;
      c.blocked = false;
      c.deadline = clock() + headTimeout;
      socket.resume();
      if (c.buf) ready(c);
      else c.deadline = clock() + idleTimeoutOf();
    };
    c.onClose = () => {
      c.done = true;
      conns.delete(c);
    };
    // The client finished sending (half-close; node:http's sockets allow it): answer nothing more, close our side.
    c.onEnd = () => {
      if (c.done) return;
      c.done = true;
      conns.delete(c);
      socket.end();
    };
    if (options.sharedReads !== false) c.reads = readShared(socket, c.onData);
    if (c.reads === undefined) socket.on('data', c.onData);
    socket.on('drain', c.onDrain);
    socket.on('end', c.onEnd);
    socket.on('close', c.onClose);
    socket.on('error', ignoreError);
    conns.add(c);
    ensureSweeper();
  }

  server.on(event, onConnection);
  keepAliveHeader(); // tells onKeepAlive at once, so files are built for this front door from the first one

  function closeLean(idleOnly: boolean): void {
    for (const c of conns) {
      if (idleOnly && (c.buf || c.blocked)) continue;
      c.done = true;
      conns.delete(c);
      c.socket.destroy();
    }
  }
  // http.Server.close() calls closeIdleConnections(); closeAllConnections() is the hard stop. Both must include the
  // sockets node:http never saw, or close() would wait for idle phone connections until they time out.
  const own = server as Server & { closeIdleConnections(): void; closeAllConnections(): void };
  const protoIdle = own.closeIdleConnections;
  const protoAll = own.closeAllConnections;
  own.closeIdleConnections = function closeIdleConnections() {
    closeLean(true);
    protoIdle.call(this);
  };
  own.closeAllConnections = function closeAllConnections() {
    closeLean(false);
    protoAll.call(this);
  };

  return {
    get connections() {
      return conns.size;
    },
    get served() {
      return served;
    },
    get replayed() {
      return replayed;
    },
    get handedOff() {
      return handedOff;
    },
    keptStats() {
      return { entries: kept.size, bytes: keptBytes };
    },
    get keptChanges() {
      return keptChanges;
    },
    *answers() {
      yield* kept;
    },
    restore(key, ticket) {
      keep(key, ticket);
    },
    adopt(socket) {
      onConnection(socket);
    },
    detach() {
      server.removeListener(event, onConnection);
      for (const l of nodeListeners) server.on(event, l);
      closeLean(false);
      own.closeIdleConnections = protoIdle;
      own.closeAllConnections = protoAll;
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
    },
  };
}
