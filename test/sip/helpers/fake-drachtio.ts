import net from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * A fake drachtio-server on loopback, speaking its TCP wire protocol (drachtio-srf lib/wire-protocol.js and
 * lib/drachtio-agent.js): frames `<byteLength>#<msgId>|<verb>|…`, `authenticate|<secret>|<tags>` answered
 * by `response|<rid>|OK|<hostport>|<version>`, `route|<verb>`, app-originated `sip|<txn>|<dialog>[|proxy]\r\n<msg>`
 * answered with `response|<rid>|OK|application|<len>|udp|<addr>|<port>|<time>|<txn>|<dialog>\r\n<msg>`, and
 * network messages delivered as `sip|network|<len>|udp|<addr>|<port>|<time>|<txn>|<dialog>\r\n<msg>`.
 * Only the drachtio-server is faked: the app runs the real drachtio-srf.
 */
export interface SentRequest {
  txn: string;
  /** drachtio's dialog id the app sent the request in ('' outside a dialog). */
  dialog: string;
  proxy?: string;
  raw: string;
}

/** A scripted answer; `dialog` makes drachtio report the response as creating that dialog (2xx to INVITE). */
export type FakeAnswer = string | { raw: string; dialog: string } | undefined;

export class FakeDrachtio {
  private server = net.createServer((s) => this.accept(s));
  private socket?: net.Socket;
  private buffer = Buffer.alloc(0);
  private txnCounter = 0;
  readonly routes: string[] = [];
  readonly requests: SentRequest[] = [];
  authenticated = false;
  /** How the fake "phone" answers a request the app sends: return the raw SIP response(s) in order. */
  answer: (req: SentRequest, attempt: number) => FakeAnswer = () => undefined;
  private readonly waiters = new Map<string, (raw: string) => void>();
  private attempts = new Map<string, number>();

  constructor(private readonly secret: string) {}

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  close(): Promise<void> {
    this.socket?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => undefined);
  }

  private write(payload: string): void {
    const s = `${randomUUID()}|${payload}`;
    this.socket?.write(`${Buffer.byteLength(s, 'utf8')}#${s}`);
  }

  private onData(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    for (;;) {
      const hash = this.buffer.indexOf('#');
      if (hash <= 0) return;
      const len = Number(this.buffer.subarray(0, hash).toString());
      if (this.buffer.length < hash + 1 + len) return;
      const msg = this.buffer.subarray(hash + 1, hash + 1 + len).toString('utf8');
      this.buffer = this.buffer.subarray(hash + 1 + len);
      this.onMessage(msg);
    }
  }

  private onMessage(msg: string): void {
    const crlf = msg.indexOf('\r\n');
    const leader = crlf < 0 ? msg : msg.slice(0, crlf);
    const body = crlf < 0 ? '' : msg.slice(crlf + 2);
    const t = leader.split('|');
    const [rid, verb] = [t[0]!, t[1]];
    if (verb === 'authenticate') {
      this.authenticated = t[2] === this.secret;
      this.write(this.authenticated ? `response|${rid}|OK|udp/127.0.0.1:5060|v0.9.2` : `response|${rid}|NOK|invalid secret`);
      if (!this.authenticated) setTimeout(() => this.socket?.destroy(), 10);
    } else if (verb === 'route') {
      this.routes.push(t[2]!);
      this.write(`response|${rid}|OK`);
    } else if (verb === 'sip') {
      const txnIn = t[2] ?? '';
      const dialog = t[3] ?? '';
      if (body.startsWith('SIP/2.0')) {
        // The app's answer to a request we delivered.
        this.write(`response|${rid}|OK|application|${body.length}|udp|127.0.0.1|5060|${Date.now()}|${txnIn}|${dialog}\r\n${body}`);
        this.waiters.get(txnIn)?.(body);
        this.waiters.delete(txnIn);
        return;
      }
      const txn = `txn-out-${++this.txnCounter}`;
      const sent: SentRequest = { txn, dialog, proxy: t[4] || undefined, raw: completeRequest(body, txn) };
      this.requests.push(sent);
      this.write(`response|${rid}|OK|application|${sent.raw.length}|udp|127.0.0.1|5060|${Date.now()}|${txn}|${dialog}\r\n${sent.raw}`);
      const callId = /^Call-ID:\s*(.*)$/im.exec(sent.raw)?.[1] ?? '';
      const attempt = (this.attempts.get(callId) ?? 0) + 1;
      this.attempts.set(callId, attempt);
      const answer = this.answer(sent, attempt);
      const reply = typeof answer === 'string' ? { raw: answer, dialog: '' } : answer;
      if (reply) setTimeout(() => this.write(`sip|network|${reply.raw.length}|udp|127.0.0.2|5070|${Date.now()}|${txn}|${reply.dialog}\r\n${reply.raw}`), 5);
    }
  }

  /** Deliver a request "from the network" and resolve with the app's response. */
  deliver(raw: string, source: { address: string; port: number }): Promise<string> {
    const txn = `txn-in-${++this.txnCounter}`;
    return new Promise((resolve) => {
      this.waiters.set(txn, resolve);
      this.write(`sip|network|${raw.length}|udp|${source.address}|${source.port}|${Date.now()}|${txn}|\r\n${raw}`);
    });
  }
}

/** A response to `req` as the phone would send it (copies Via/From/To/Call-ID/CSeq, adds a To-tag). */
export function phoneResponse(req: string, status: number, reason: string, extra: string[] = [], body = ''): string {
  const pick = (name: string) => req.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  const to = pick('To')[0] ?? 'To: <sip:x@y>';
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...pick('Via'),
    ...pick('From'),
    /;tag=/.test(to) ? to : `${to};tag=phone1`,
    ...pick('Call-ID'),
    ...pick('CSeq'),
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** What drachtio-server does to an app's request before sending it: adds Via, and Call-ID/CSeq when missing. */
function completeRequest(raw: string, txn: string): string {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const method = /^(\w+) /.exec(lines[0] ?? '')?.[1] ?? 'NOTIFY';
  const has = (n: string) => lines.some((l) => l.toLowerCase().startsWith(`${n.toLowerCase()}:`));
  const added = [`Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK${txn}`];
  if (!has('Call-ID')) added.push(`Call-ID: fake-${txn}@127.0.0.1`);
  if (!has('CSeq')) added.push(`CSeq: 1 ${method}`);
  if (!has('Max-Forwards')) added.push('Max-Forwards: 70');
  return [lines[0], ...added, ...lines.slice(1)].join('\r\n') + '\r\n\r\n' + rest.join('\r\n\r\n');
}
