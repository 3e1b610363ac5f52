import dgram from 'node:dgram';
import net from 'node:net';
import { SipMessageTooLargeError } from './service.js';

/**
 * The UDP socket of the embedded backend. Exists because npm `sip@0.0.6` binds without an 'error'
 * listener, so a busy port kills the process. Here bind() resolves once listening and
 * rejects with a message naming the address when the port is taken; later socket errors (ICMP
 * unreachable, EPERM on send, …) are reported, never thrown.
 */
export class SipStartError extends Error {}

export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
}

/**
 * Socket buffers asked of the kernel. Phones re-register in bursts (a site's power comes back, a
 * registrar restarts) and a UDP socket's default 208 KiB receive buffer holds only ~100 queued REGISTERs
 * on Linux (each datagram costs a full skb): the bench lost 375 of 4,000 requests at 2,000 REGISTER/s
 * to RcvbufErrors while our process was busy. The kernel caps these at net.core.rmem_max/wmem_max.
 */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Largest datagram we send by default: the whole message in 65,000 bytes, under the 65,507-byte IPv4 UDP
 * maximum with room to spare. Anything over ~1,300 bytes already relies on IP fragmentation, which some
 * NATs and firewalls drop; SIP_MAX_DATAGRAM can lower the limit for such networks.
 */
export const DEFAULT_MAX_DATAGRAM = 65_000;

export class UdpTransport {
  private constructor(
    private readonly socket: dgram.Socket,
    readonly maxDatagram: number,
  ) {}

  static bind(address: string, port: number, onError: (err: Error) => void, maxDatagram = DEFAULT_MAX_DATAGRAM): Promise<UdpTransport> {
    const type = net.isIPv6(address) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, reuseAddr: false, recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES });
    return new Promise((resolve, reject) => {
      const failStart = (err: NodeJS.ErrnoException) => {
        socket.removeAllListeners();
        try {
          socket.close();
        } catch {
          // already closed
        }
        const why = err.code === 'EADDRINUSE' ? 'is already in use' : err.code === 'EADDRNOTAVAIL' ? 'is not an address of this host' : err.code === 'EACCES' ? 'needs privileges' : `failed (${err.message})`;
        reject(new SipStartError(`SIP: cannot listen on UDP ${address}:${port}: the port ${why}. Set SIP_ADDRESS/SIP_PORT to a free address.`));
      };
      socket.once('error', failStart);
      socket.once('listening', () => {
        socket.off('error', failStart);
        socket.on('error', onError);
        resolve(new UdpTransport(socket, maxDatagram));
      });
      try {
        socket.bind({ address, port, exclusive: true });
      } catch (err) {
        failStart(err as NodeJS.ErrnoException);
      }
    });
  }

  onDatagram(handler: (d: Datagram) => void): void {
    this.socket.on('message', (data, rinfo) => handler({ data, address: rinfo.address, port: rinfo.port }));
  }

  /** Throws SipMessageTooLargeError for a message over `maxDatagram`; any other failure is swallowed. */
  send(data: Buffer, address: string, port: number): void {
    this.assertFits(data);
    try {
      this.socket.send(data, port, address, () => undefined);
    } catch {
      // Socket closed during shutdown, or an invalid address from a hostile Contact: nothing to do.
    }
  }

  assertFits(data: Buffer): void {
    if (data.length > this.maxDatagram) throw new SipMessageTooLargeError(data.length, this.maxDatagram);
  }

  /** Buffer sizes the kernel actually granted (bench report). */
  bufferSizes(): { recv: number; send: number } {
    try {
      return { recv: this.socket.getRecvBufferSize(), send: this.socket.getSendBufferSize() };
    } catch {
      return { recv: 0, send: 0 };
    }
  }

  address(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
