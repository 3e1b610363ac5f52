import net from 'node:net';
import type { FrontDoor } from './front-door.js';

/**
 * The phones' path rehearsed before the port opens. Right after a start the front door's code has not run yet:
 * V8 interprets it, then compiles it while phones wait, on the same core. At 10k phones the cold walk (wrk, 50
 * connections) ran its first ~300 ms at a third of its later pace: 24-25k configs/s, p99 53-63 ms. After 3,000
 * fetches of one file over 4 connections first: 30k/s, p99 20-21 ms; after 6,000 over 8: 29-31k/s, p99 8.5-12 ms.
 * So the server replays one kept answer to itself, over loopback sockets it accepted on a port of its own, through
 * the very front door phones will reach; the fetch log is muted meanwhile (no phone fetched anything). Bounded by a
 * request count and a deadline: startup never waits long on it.
 */
export const REHEARSAL_REQUESTS = 6000;

export interface RehearsalOptions {
  /** Requests in all (default REHEARSAL_REQUESTS). */
  requests?: number;
  /** Connections they are spread over, each one request at a time as phones do (default 8). */
  connections?: number;
  /** Ends the rehearsal whatever is left (default 2 s). */
  deadlineMs?: number;
}

/**
 * Sends `head` (a complete GET the front door replays from a kept answer) over and over; `answerBytes` is the size
 * of that answer, by which the client tells one answer from the next. Resolves with the requests answered.
 * Stops at the first answer that was not a replay (the loopback address banned, the answer no longer current):
 * the front door would decide each request in full, and answers of another size would leave the count waiting
 * for the deadline.
 */
export async function rehearse(front: FrontDoor, head: Buffer, answerBytes: number, options: RehearsalOptions = {}): Promise<number> {
  const requests = options.requests ?? REHEARSAL_REQUESTS;
  const connections = Math.min(options.connections ?? 8, requests);
  if (answerBytes <= 0 || requests <= 0) return 0;
  const acceptor = net.createServer((socket) => front.adopt(socket));
  await new Promise<void>((resolve, reject) => {
    acceptor.once('error', reject);
    acceptor.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = acceptor.address() as net.AddressInfo;
  let sent = 0;
  let answered = 0;
  const clients: net.Socket[] = [];
  try {
    const replayedBefore = front.replayed;
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        clearTimeout(deadline);
        resolve();
      };
      const deadline = setTimeout(stop, options.deadlineMs ?? 2000);
      let open = connections;
      const closed = (): void => {
        if (--open === 0) stop();
      };
      for (let i = 0; i < connections; i++) {
        const client = net.connect(port, '127.0.0.1');
        clients.push(client);
        let pending = 0;
        const next = (): void => {
          if (sent >= requests) {
            client.end();
            return;
          }
          sent++;
          client.write(head);
        };
        client.on('connect', next);
        client.on('data', (data: Buffer) => {
          // The front door counts a replay before writing it: none counted yet means this answer was decided anew.
          if (front.replayed === replayedBefore) return stop();
          pending += data.length;
          while (pending >= answerBytes) {
            pending -= answerBytes;
            answered++;
            next();
          }
        });
        client.on('error', () => client.destroy());
        client.on('close', closed);
      }
    });
  } finally {
    for (const client of clients) client.destroy();
    // Stops listening at once; the adopted sockets close as their clients did.
    acceptor.close();
  }
  return answered;
}
