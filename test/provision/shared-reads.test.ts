import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPhoneFrontDoor } from '../../src/provision/front-door.js';
import type { PhoneDecider } from '../../src/provision/phone-handler.js';
import { ownBytes, readShared } from '../../src/provision/shared-reads.js';
import { rawClient } from './support/raw-client.js';

/**
 * Lean connections read into one buffer shared by all of them (src/provision/shared-reads.ts): every byte a
 * connection keeps past a read (a partial head, a head waiting for a later turn, what node:http takes over) must be
 * its own, or another connection's next read overwrites it. Real loopback sockets; the decision answers each request
 * with its own URL and User-Agent, so an answer built from another connection's bytes shows.
 */
const sockets: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) {
    (s as http.Server).closeAllConnections?.();
    await new Promise((r) => s.close(r));
  }
});

/** Answers every phone request with `<url> <user-agent>`. */
const echoDecision: PhoneDecider = (req) => {
  const body = Buffer.from(`${req.url} ${req.headers['user-agent'] ?? ''}`);
  return { status: 200, headers: ['Content-Type', 'text/plain', 'Content-Length', String(body.length)], body };
};

/** node:http's part: the length and SHA-256 of a request's body. */
function hashHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const hash = createHash('sha256');
  let length = 0;
  req.on('data', (d: Buffer) => {
    length += d.length;
    hash.update(d);
  });
  req.on('end', () => res.end(`${length} ${hash.digest('hex')}`));
}

async function listen(server: net.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const head = (i: number) => `GET /provision/phone-${i}.cfg HTTP/1.1\r\nHost: prov\r\nUser-Agent: phone-agent-${i}\r\n\r\n`;
const tick = () => new Promise((r) => setTimeout(r, 10));

describe('shared read buffer', () => {
  it('is available on this Node for an accepted TCP socket (else the front door reads data events, slower)', async () => {
    const server = net.createServer();
    const base = await listen(server);
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const c = net.connect(Number(new URL(base).port), '127.0.0.1');
    sockets.push(c);
    const socket = await accepted;
    sockets.push(socket);
    const got: Buffer[] = [];
    const reads = readShared(socket, (bytes) => got.push(ownBytes(bytes)));
    expect(reads).toBeDefined();
    c.write('one');
    while (got.length === 0) await tick();
    expect(Buffer.concat(got).toString()).toBe('one');
    // A copy of shared bytes is their own; bytes outside the shared buffer are passed through.
    const own = Buffer.from('x');
    expect(ownBytes(own)).toBe(own);
  });

  it('answers each of many connections from its own bytes: heads split across reads, heads waiting for a later turn', async () => {
    const server = http.createServer(hashHandler);
    // One connection answered per turn: the others' complete heads wait in their buffers while later reads land.
    attachPhoneFrontDoor(server, echoDecision, { connectionsPerTurn: 1 });
    const base = await listen(server);
    const n = 40;
    const clients = Array.from({ length: n }, () => rawClient({ base }, sockets));
    for (const c of clients) await new Promise<void>((r) => (c.socket.connecting ? c.socket.once('connect', () => r()) : r()));
    // Every head's first part, then every rest: each connection's partial head outlives the others' reads.
    for (let i = 0; i < n; i++) clients[i]!.socket.write(head(i).slice(0, 20 + (i % 7)));
    await tick();
    for (let i = 0; i < n; i++) clients[i]!.socket.write(head(i).slice(20 + (i % 7)) + head(i + 100));
    for (let i = 0; i < n; i++) {
      const first = await clients[i]!.next();
      const second = await clients[i]!.next();
      expect(first.body.toString()).toBe(`/provision/phone-${i}.cfg phone-agent-${i}`);
      expect(second.body.toString()).toBe(`/provision/phone-${i + 100}.cfg phone-agent-${i + 100}`);
    }
  });

  it('hands node:http a connection with every byte read before and after, mid-connection', async () => {
    const server = http.createServer(hashHandler);
    const front = attachPhoneFrontDoor(server, echoDecision);
    const base = await listen(server);
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
    const c = rawClient({ base }, sockets);
    // A phone fetch answered on the lean path, then a request with a body: handed off with the part of its body
    // read along with its head, the rest read after the hand-off, in pieces, while other connections read too.
    const others = Array.from({ length: 5 }, () => rawClient({ base }, sockets));
    await c.write(head(1) + `POST /upload HTTP/1.1\r\nHost: prov\r\nContent-Length: ${body.length}\r\n\r\n` + body.subarray(0, 1000).toString('latin1'));
    for (let at = 1000; at < body.length; at += 37_000) {
      for (const [i, o] of others.entries()) o.socket.write(head(i));
      await c.write(body.subarray(at, at + 37_000).toString('latin1'));
      await tick();
    }
    expect((await c.next()).body.toString()).toBe('/provision/phone-1.cfg phone-agent-1');
    const hashed = await c.next();
    expect(hashed.body.toString()).toBe(`${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    for (const [i, o] of others.entries()) expect((await o.next()).body.toString()).toBe(`/provision/phone-${i}.cfg phone-agent-${i}`);
    expect(front.handedOff).toBe(1);
  });

  it('gives node:http every byte after it lets go of the parser (an upgraded connection reads its socket itself)', async () => {
    const server = http.createServer(hashHandler);
    // What node:http does not answer itself: the socket is the upgrade handler's, read by its own 'data' listener.
    server.on('upgrade', (_req, socket: net.Socket, early: Buffer) => {
      sockets.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      if (early.length > 0) socket.write(early);
      socket.on('data', (d: Buffer) => socket.write(d));
    });
    const front = attachPhoneFrontDoor(server, echoDecision);
    const base = await listen(server);
    const c = rawClient({ base }, sockets);
    await c.write(head(1) + 'GET /echo HTTP/1.1\r\nHost: prov\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    expect((await c.next()).status).toBe(200);
    expect((await c.next(true)).status).toBe(101);
    const others = Array.from({ length: 3 }, () => rawClient({ base }, sockets));
    let sent = '';
    for (let i = 0; i < 5; i++) {
      for (const [k, o] of others.entries()) o.socket.write(head(k));
      sent += `ping-${i};`;
      await c.write(`ping-${i};`);
      await tick();
    }
    for (let waited = 0; c.rest().length < sent.length && !c.ended && waited < 300; waited++) await tick();
    expect(c.rest().toString('latin1')).toBe(sent);
    expect(front.handedOff).toBe(1);
  });
});
