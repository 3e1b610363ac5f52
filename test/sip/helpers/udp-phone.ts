import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';

/**
 * A phone made of one UDP socket, for REGISTERs SIPp cannot craft (replayed, forged or mismatched
 * Authorization headers). Real datagrams to the real server on loopback. The digest is computed here
 * with node:crypto, independently of src/sip/digest.ts, so a bug there cannot cancel itself out.
 */
export interface Reply {
  raw: string;
  status: number;
  header(name: string): string | undefined;
}

export interface RegisterOptions {
  user: string;
  realm: string;
  /** Defaults to `user`. */
  toUser?: string;
  callId: string;
  cseq: number;
  expires?: number;
  authorization?: string;
  /** Same branch = a retransmission of the same transaction. */
  branch?: string;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export function challengeOf(reply: Reply): Record<string, string> {
  const value = reply.header('www-authenticate') ?? '';
  const params: Record<string, string> = {};
  for (const m of value.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)) params[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
  return params;
}

export function digestAuthorization(o: { user: string; password: string; realm: string; nonce: string; uri: string; nc: number; cnonce?: string }): string {
  const nc = o.nc.toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? 'c0ffee01';
  const response = md5(`${md5(`${o.user}:${o.realm}:${o.password}`)}:${o.nonce}:${nc}:${cnonce}:auth:${md5(`REGISTER:${o.uri}`)}`);
  return `Digest username="${o.user}", realm="${o.realm}", nonce="${o.nonce}", uri="${o.uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

export class UdpPhone {
  private constructor(
    private readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
    private readonly server: { address: string; port: number },
  ) {}

  static async open(address: string, server: { address: string; port: number }): Promise<UdpPhone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
    return new UdpPhone(socket, address, socket.address().port, server);
  }

  get uri(): string {
    return `sip:${this.server.address}:${this.server.port}`;
  }

  registerMessage(o: RegisterOptions): string {
    const branch = o.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`;
    return [
      `REGISTER ${this.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${o.user}@${o.realm}>;tag=t${o.callId}`,
      `To: <sip:${o.toUser ?? o.user}@${o.realm}>`,
      `Call-ID: ${o.callId}`,
      `CSeq: ${o.cseq} REGISTER`,
      `Contact: <sip:${o.user}@${this.address}:${this.port}>`,
      `Expires: ${o.expires ?? 300}`,
      ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** Send and wait for the final response of that CSeq (re-sending every 250 ms like a phone, 5 s at most). */
  send(message: string): Promise<Reply> {
    const cseq = /^CSeq: (\d+)/m.exec(message)![1];
    const callId = /^Call-ID: (.*)$/m.exec(message)![1];
    return new Promise((resolve, reject) => {
      const onMessage = (data: Buffer) => {
        const raw = data.toString();
        const status = Number(/^SIP\/2\.0 (\d{3})/.exec(raw)?.[1]);
        if (status < 200 || !raw.includes(`Call-ID: ${callId}\r\n`) || !new RegExp(`^CSeq: ${cseq} REGISTER`, 'm').test(raw)) return;
        done();
        resolve({
          raw,
          status,
          header: (name) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(raw)?.[1]?.trim(),
        });
      };
      const resend = setInterval(() => this.socket.send(message, this.server.port, this.server.address), 250);
      const guard = setTimeout(() => {
        done();
        reject(new Error(`no final response to CSeq ${cseq}`));
      }, 5000);
      const done = () => {
        clearInterval(resend);
        clearTimeout(guard);
        this.socket.off('message', onMessage);
      };
      this.socket.on('message', onMessage);
      this.socket.send(message, this.server.port, this.server.address);
    });
  }

  close(): void {
    this.socket.close();
  }
}
