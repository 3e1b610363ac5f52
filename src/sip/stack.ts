import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import {
  buildRequest,
  detached,
  formatVia,
  hasMandatoryHeaders,
  header,
  headerValues,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseVia,
  serialize,
  type SipHeaders,
  type SipRequest,
  type SipResponse,
} from './message.js';
import type { Datagram, UdpTransport } from './transport.js';

/**
 * A deliberately small RFC 3261 UDP transaction layer for the embedded backend.
 *
 * Why not npm `sip@0.0.6`'s transactions: requests to a host equal to our own are turned
 * into local 404s, the INVITE client transaction has no timer in "proceeding", responses get no To-tag,
 * branches carry ~20 bits of randomness and bodies are length-counted in UTF-16. What the product needs
 * is narrow — answer REGISTER/OPTIONS/in-dialog requests, and originate NOTIFY, INVITE (+ACK/CANCEL)
 * and REFER to a known address — so a 200-line layer we fully control was simpler than wrapping those
 * bugs. Everything a datagram can trigger is inside try/catch: hostile input is dropped, never thrown.
 */
export const T1 = 500;
export const T2 = 4000;

export interface Endpoint {
  address: string;
  port: number;
}

export type Respond = (status: number, reason: string, headers?: Array<[string, string]>, body?: string) => void;
export type RequestHandler = (req: SipRequest, source: Endpoint, respond: Respond) => void;

export interface ClientTransactionOptions {
  /** Called for each 1xx (INVITE only). */
  onProvisional?: (res: SipResponse) => void;
  /** Overall timeout (Timer B/F), default 64*T1. */
  timeoutMs?: number;
}

interface ClientTx {
  request: SipRequest;
  dest: Endpoint;
  resolve: (res: SipResponse) => void;
  options: ClientTransactionOptions;
  timers: NodeJS.Timeout[];
  proceeding: boolean;
  done: boolean;
}

export const randomToken = (bytes = 8) => randomBytes(bytes).toString('hex');

export interface SipStackOptions {
  /** Bytes the response cache may hold (default 16 MiB); the oldest answers go first beyond that. */
  responseCacheBytes?: number;
}

/** Map entry, key and bookkeeping beyond the answer's own bytes, counted against the cache's budget. */
const CACHE_ENTRY_OVERHEAD = 96;
export const DEFAULT_RESPONSE_CACHE_BYTES = 16 * 1024 * 1024;

export class SipStack {
  private readonly clientTx = new Map<string, ClientTx>();
  /**
   * Final responses we sent, keyed by the request's branch+method, re-sent on retransmitted requests.
   * Bounded in bytes as well as time: an answer is about as big as its request, and 4,000 60 KB
   * REGISTERs within the 32 s lifetime held 400 MB. Entries are in insertion order, which with one
   * lifetime for all is also expiry order, so the oldest is dropped first.
   */
  private readonly responseCache = new Map<string, { data: Buffer; dest: Endpoint; expires: number; bytes: number }>();
  private responseCacheBytes = 0;
  private readonly maxResponseCacheBytes: number;
  /** ACKs we sent for 2xx to our INVITEs, keyed by Call-ID, re-sent when the 200 is retransmitted. */
  private readonly ackCache = new Map<string, { data: Buffer; dest: Endpoint; expires: number }>();
  private readonly sweepTimer: NodeJS.Timeout;
  /** Counters for tests and the bench: how much garbage arrived and was dropped. */
  readonly stats = { received: 0, dropped: 0, requests: 0, responses: 0 };

  constructor(
    private readonly transport: UdpTransport,
    readonly local: Endpoint,
    private readonly onRequest: RequestHandler,
    private readonly log: Logger,
    options: SipStackOptions = {},
  ) {
    this.maxResponseCacheBytes = options.responseCacheBytes ?? DEFAULT_RESPONSE_CACHE_BYTES;
    transport.onDatagram((d) => this.receive(d));
    this.sweepTimer = setInterval(() => this.sweepCaches(), 5000);
    this.sweepTimer.unref();
  }

  close(): void {
    clearInterval(this.sweepTimer);
    for (const tx of this.clientTx.values()) {
      for (const t of tx.timers) clearTimeout(t);
      if (!tx.done) {
        tx.done = true;
        tx.resolve(syntheticResponse(tx.request, 503, 'Service Stopping'));
      }
    }
    this.clientTx.clear();
  }

  // ---- inbound -------------------------------------------------------------------------------

  private receive(d: Datagram): void {
    this.stats.received++;
    try {
      if (d.data.length < 4 || (d.data.length <= 4 && d.data.toString() === '\r\n\r\n')) {
        this.stats.dropped++; // keep-alive CRLFs and runts
        return;
      }
      const msg = parseMessage(d.data);
      if (!msg || !hasMandatoryHeaders(msg)) {
        this.stats.dropped++;
        return;
      }
      if (msg.kind === 'response') {
        this.stats.responses++;
        this.receiveResponse(msg);
      } else {
        this.stats.requests++;
        this.receiveRequest(msg, { address: d.address, port: d.port });
      }
    } catch (err) {
      this.stats.dropped++;
      this.log.debug('sip datagram dropped', { source: `${d.address}:${d.port}`, error: (err as Error).message });
    }
  }

  private receiveRequest(req: SipRequest, source: Endpoint): void {
    const via = parseVia(header(req.headers, 'via')!)!;
    const branch = via.params.branch ?? '';
    const method = req.method === 'ACK' ? 'INVITE' : req.method;
    const key = `${branch}|${method}|${via.host}:${via.port ?? ''}`;
    if (req.method === 'ACK') {
      this.onRequest(req, source, () => undefined); // ACKs are never answered
      return;
    }
    const cached = this.responseCache.get(key);
    if (cached && branch.startsWith('z9hG4bK')) {
      this.transport.send(cached.data, source.address, source.port);
      return;
    }
    let answered = false;
    const respond: Respond = (status, reason, headers = [], body = '') => {
      if (answered && status >= 200) return;
      if (status >= 200) answered = true;
      const res = this.makeResponse(req, source, status, reason, headers, body);
      const data = serialize(res);
      this.transport.send(data, source.address, source.port); // throws (and caches nothing) when too large
      if (status >= 200 && branch.startsWith('z9hG4bK')) this.cacheResponse(key, data, source);
    };
    this.onRequest(req, source, respond);
  }

  /** Response per RFC 3261 §8.2.6: copies Via (with received/rport), From, To (+tag), Call-ID, CSeq. */
  makeResponse(req: SipRequest, source: Endpoint, status: number, reason: string, extra: Array<[string, string]>, body: string): SipResponse {
    const vias = headerValues(req.headers, 'via');
    const top = parseVia(vias[0]!)!;
    if (top.host !== source.address) top.params.received = source.address;
    if ('rport' in top.params) top.params.rport = String(source.port);
    let to = header(req.headers, 'to')!;
    const toAddr = parseNameAddr(to);
    if (status > 100 && toAddr && toAddr.params.tag === undefined) to = `${to};tag=${tagFor(req)}`;
    const list: Array<[string, string]> = [
      ['Via', formatVia(top)],
      ...vias.slice(1).map((v): [string, string] => ['Via', v]),
      ['From', header(req.headers, 'from')!],
      ['To', to],
      ['Call-ID', header(req.headers, 'call-id')!],
      ['CSeq', header(req.headers, 'cseq')!],
      ['Server', 'kazoo-provisioner'],
      ...extra,
    ];
    return { kind: 'response', status, reason, headers: { list }, body };
  }

  private receiveResponse(res: SipResponse): void {
    const via = parseVia(header(res.headers, 'via')!)!;
    const cseq = parseCSeq(header(res.headers, 'cseq'))!;
    const key = `${via.params.branch ?? ''}|${cseq.method}`;
    const tx = this.clientTx.get(key);
    if (!tx) {
      // A retransmitted 2xx to an INVITE we already ACKed: ACK again (the phone stops retransmitting).
      if (cseq.method === 'INVITE' && res.status >= 200 && res.status < 300) {
        const ack = this.ackCache.get(header(res.headers, 'call-id') ?? '');
        if (ack) this.transport.send(ack.data, ack.dest.address, ack.dest.port);
      }
      return;
    }
    if (tx.done) return;
    if (res.status < 200) {
      tx.proceeding = true;
      tx.options.onProvisional?.(res);
      if (tx.request.method === 'INVITE') this.stopRetransmits(tx); // Timer A stops in "proceeding"
      return;
    }
    tx.done = true;
    for (const t of tx.timers) clearTimeout(t);
    if (tx.request.method === 'INVITE' && res.status >= 300) this.sendNon2xxAck(tx, res);
    // Keep the key briefly so retransmitted finals are absorbed (and re-ACKed for INVITE non-2xx).
    const linger = setTimeout(() => this.clientTx.delete(key), tx.request.method === 'INVITE' ? 32_000 : 5_000);
    linger.unref();
    tx.timers = [linger];
    tx.resolve(res);
  }

  private stopRetransmits(tx: ClientTx): void {
    // timers[0] is the overall timeout; the rest are retransmissions.
    for (const t of tx.timers.slice(1)) clearTimeout(t);
    tx.timers = tx.timers.slice(0, 1);
  }

  /** ACK for a non-2xx final: same branch, hop-by-hop (RFC 3261 §17.1.1.3). */
  private sendNon2xxAck(tx: ClientTx, res: SipResponse): void {
    const req = tx.request;
    const ack = buildRequest('ACK', req.uri, {
      via: header(req.headers, 'via'),
      from: header(req.headers, 'from'),
      to: header(res.headers, 'to'),
      callId: header(req.headers, 'call-id'),
      cseq: parseCSeq(header(req.headers, 'cseq'))!.seq,
    });
    this.transport.send(serialize(ack), tx.dest.address, tx.dest.port);
  }

  // ---- outbound ------------------------------------------------------------------------------

  newVia(): string {
    return `SIP/2.0/UDP ${hostPort(this.local)};branch=z9hG4bK${randomToken(10)};rport`;
  }

  /** Start a client transaction; resolves with the final response (408 synthesised on timeout). */
  request(req: SipRequest, dest: Endpoint, options: ClientTransactionOptions = {}): Promise<SipResponse> {
    const via = parseVia(header(req.headers, 'via') ?? '');
    const cseq = parseCSeq(header(req.headers, 'cseq'));
    if (!via || !cseq) return Promise.reject(new Error('request needs Via and CSeq'));
    const key = `${via.params.branch ?? ''}|${cseq.method}`;
    const data = serialize(req);
    try {
      this.transport.assertFits(data); // before any transaction state or timer exists
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve) => {
      const tx: ClientTx = { request: req, dest, resolve, options, timers: [], proceeding: false, done: false };
      this.clientTx.set(key, tx);
      const timeout = setTimeout(() => {
        if (tx.done) return;
        tx.done = true;
        for (const t of tx.timers) clearTimeout(t);
        this.clientTx.delete(key);
        resolve(syntheticResponse(req, 408, 'Request Timeout'));
      }, options.timeoutMs ?? 64 * T1);
      tx.timers.push(timeout);
      const isInvite = req.method === 'INVITE';
      const retransmit = (interval: number) => {
        const t = setTimeout(() => {
          if (tx.done || (isInvite && tx.proceeding)) return;
          this.transport.send(data, dest.address, dest.port);
          retransmit(isInvite ? interval * 2 : Math.min(interval * 2, T2));
        }, interval);
        tx.timers.push(t);
      };
      this.transport.send(data, dest.address, dest.port);
      retransmit(T1);
    });
  }

  /** Fire-and-forget send (ACK for 2xx, which is its own transaction-less request). */
  sendAck(ack: SipRequest, dest: Endpoint): void {
    const data = serialize(ack);
    this.ackCache.set(detached(header(ack.headers, 'call-id') ?? ''), { data, dest, expires: Date.now() + 64 * T1 });
    this.transport.send(data, dest.address, dest.port);
  }

  private cacheResponse(key: string, data: Buffer, dest: Endpoint): void {
    this.uncache(key);
    const bytes = data.length + key.length * 2 + CACHE_ENTRY_OVERHEAD;
    if (bytes > this.maxResponseCacheBytes) return; // could never fit: a retransmission is simply handled again
    this.responseCache.set(detached(key), { data, dest, expires: Date.now() + 64 * T1, bytes });
    this.responseCacheBytes += bytes;
    while (this.responseCacheBytes > this.maxResponseCacheBytes) this.uncache(this.responseCache.keys().next().value as string);
  }

  private uncache(key: string): void {
    const entry = this.responseCache.get(key);
    if (!entry) return;
    this.responseCache.delete(key);
    this.responseCacheBytes -= entry.bytes;
  }

  /** Bytes held by the response cache, as counted against its budget. */
  get cachedResponseBytes(): number {
    return this.responseCacheBytes;
  }

  private sweepCaches(): void {
    const now = Date.now();
    for (const [k, v] of this.responseCache) if (v.expires < now) this.uncache(k);
    for (const [k, v] of this.ackCache) if (v.expires < now) this.ackCache.delete(k);
  }
}

export function hostPort(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** Stable To-tag per request (so a retransmitted request not in the cache still gets the same tag). */
function tagFor(req: SipRequest): string {
  const seed = `${header(req.headers, 'call-id')}|${header(req.headers, 'from')}`;
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return `${(h >>> 0).toString(16)}${randomSuffix}`;
}
const randomSuffix = randomToken(3);

export function syntheticResponse(req: SipRequest, status: number, reason: string): SipResponse {
  const headers: SipHeaders = { list: req.headers.list.filter(([n]) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(n.toLowerCase())) };
  return { kind: 'response', status, reason, headers, body: '' };
}
