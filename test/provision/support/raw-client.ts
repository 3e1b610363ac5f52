import net from 'node:net';
import type { Harness } from './harness.js';

export interface Raw {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * A raw HTTP/1.1 client on one socket (keep-alive, pipelining, odd bytes): collects bytes and parses responses by
 * Content-Length (no body for HEAD). Sockets go into `sockets` so the test can destroy them afterwards.
 */
export function rawClient(h: Pick<Harness, 'base'>, sockets: net.Socket[]) {
  const port = Number(new URL(h.base).port);
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  let data = Buffer.alloc(0);
  let ended = false;
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (d) => {
    data = Buffer.concat([data, d]);
    wake();
  });
  socket.on('close', () => {
    ended = true;
    wake();
  });
  socket.on('error', () => undefined);
  const until = async (ready: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(data.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return {
    socket,
    write: (text: string) => new Promise<void>((r) => socket.write(text, 'latin1', () => r())),
    get ended() {
      return ended;
    },
    /** Waits for and removes one complete response. */
    async next(isHead = false): Promise<Raw> {
      let parsed: Raw | undefined;
      await until(() => {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return ended;
        const head = data.toString('latin1', 0, end);
        const headers: Record<string, string> = {};
        for (const line of head.split('\r\n').slice(1)) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
        }
        const length = isHead ? 0 : Number(headers['content-length'] ?? 0);
        if (data.length < end + 4 + length) return ended;
        parsed = { status: Number(head.split(' ')[1]), head, headers, body: data.subarray(end + 4, end + 4 + length) };
        data = data.subarray(end + 4 + length);
        return true;
      }, 'a response');
      if (!parsed) throw new Error(`connection closed without a response; got ${JSON.stringify(data.toString('latin1'))}`);
      return parsed;
    },
    async closed(): Promise<void> {
      await until(() => ended, 'the server to close the connection');
    },
    rest: () => data,
  };
}

