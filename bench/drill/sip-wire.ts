import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';

/**
 * A bare UDP SIP client for the drills: it sends exactly the datagrams an attacker would (no retransmission,
 * no politeness) and matches answers by Call-ID and CSeq. The digest is computed here, independently of src/.
 */
export interface SipAnswer {
  status: number;
  reason: string;
  raw: string;
  header(name: string): string | undefined;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export function challengeParams(answer: SipAnswer): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of (answer.header('www-authenticate') ?? '').matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)) {
    params[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
  }
  return params;
}

export function digest(o: { user: string; password: string; realm: string; nonce: string; uri: string; nc?: number; cnonce?: string; method?: string }): string {
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(4).toString('hex');
  const ha1 = md5(`${o.user}:${o.realm}:${o.password}`);
  const response = md5(`${ha1}:${o.nonce}:${nc}:${cnonce}:auth:${md5(`${o.method ?? 'REGISTER'}:${o.uri}`)}`);
  return `Digest username="${o.user}", realm="${o.realm}", nonce="${o.nonce}", uri="${o.uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

export class SipWire {
  private readonly waiting = new Map<string, (answer: SipAnswer) => void>();
  private seq = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
    private readonly server: { address: string; port: number },
  ) {
    socket.on('message', (data) => this.onMessage(data.toString('latin1')));
  }

  static async open(address: string, server: { address: string; port: number }): Promise<SipWire> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
    socket.setSendBufferSize(8 * 1024 * 1024);
    return new SipWire(socket, address, socket.address().port, server);
  }

  private onMessage(raw: string): void {
    const status = Number(/^SIP\/2\.0 (\d{3}) ?(.*)\r\n/.exec(raw)?.[1]);
    if (!(status >= 200)) return;
    const key = `${/^(?:Call-ID|i)\s*:\s*(.*?)\r$/im.exec(raw)?.[1]}|${/^CSeq\s*:\s*(\d+)/im.exec(raw)?.[1]}`;
    const resolve = this.waiting.get(key);
    if (!resolve) return;
    this.waiting.delete(key);
    resolve({
      status,
      reason: /^SIP\/2\.0 \d{3} ?(.*)\r\n/.exec(raw)?.[1] ?? '',
      raw,
      header: (name) => new RegExp(`^${name}\\s*:\\s*(.*?)\\r$`, 'im').exec(raw)?.[1],
    });
  }

  get registrarUri(): string {
    return `sip:${this.server.address}:${this.server.port}`;
  }

  /** A REGISTER for `user`@`realm`, optionally with an Authorization value and extra padding headers. */
  register(o: { user: string; realm: string; authorization?: string; extraHeaders?: string[]; callId?: string; cseq?: number }): { message: string; callId: string; cseq: number } {
    const callId = o.callId ?? `drill-${randomBytes(8).toString('hex')}`;
    const cseq = o.cseq ?? ++this.seq;
    const message = [
      `REGISTER ${this.registrarUri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:${o.user}@${o.realm}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${o.user}@${o.realm}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${o.user}@${this.address}:${this.port}>`,
      'Expires: 300',
      ...(o.authorization !== undefined ? [`Authorization: ${o.authorization}`] : []),
      ...(o.extraHeaders ?? []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return { message, callId, cseq };
  }

  /** Sends one datagram; resolves with the final answer, or undefined when none comes within `timeoutMs`. */
  send(m: { message: string; callId: string; cseq: number }, timeoutMs = 2000): Promise<SipAnswer | undefined> {
    const key = `${m.callId}|${m.cseq}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(key, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.socket.send(m.message, this.server.port, this.server.address);
    });
  }

  /** Fire and forget (for floods whose answers are not needed). */
  fire(message: string): void {
    this.socket.send(message, this.server.port, this.server.address);
  }

  close(): void {
    this.socket.close();
  }
}
