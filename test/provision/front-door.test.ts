import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { rawClient } from './support/raw-client.js';
import { rehearse } from '../../src/provision/rehearsal.js';

/**
 * The lean front door over real sockets: framing, keep-alive, limits and hand-off to node:http. The decision
 * itself is shared with the node:http transport, so every other provisioning test covers it on both paths
 * (PROVISION_FAST_PATH=1 runs them all through the front door).
 */
let h: Harness;
let other: Harness | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
  await other?.close();
  other = undefined;
});

const UA = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc';
const MAC_FILE = '/provision/001565aabbcc.cfg';

const client = (harness: Harness) => rawClient(harness, sockets);
const get = (path: string, extra = '', version = 'HTTP/1.1') => `GET ${path} ${version}\r\nHost: prov\r\nUser-Agent: ${UA}\r\n${extra}\r\n`;

async function lean(options: Parameters<typeof startHarness>[0] = {}) {
  h = await startHarness({ frontDoor: {}, ...options });
  seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
  return h;
}

describe('lean front door', () => {
  it('answers byte-for-byte like node:http (statuses, headers, bodies; Date aside)', async () => {
    await lean();
    other = await startHarness({ frontDoor: false });
    seedFullDevice(other, { id: 'd', mac: '001565aabbcc' });
    const cases = [
      get(MAC_FILE),
      `HEAD ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\r\n\r\n`,
      get('/provision/001565000000.cfg'),
      get('/provision/nothing-here.txt'),
      get(MAC_FILE).replace(UA, 'Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01'),
      get(MAC_FILE, 'Connection: close\r\n'),
      get(MAC_FILE, '', 'HTTP/1.0'),
    ];
    for (const request of cases) {
      const [a, b] = [client(h), client(other)];
      await a.write(request);
      await b.write(request);
      const isHead = request.startsWith('HEAD');
      const [x, y] = [await a.next(isHead), await b.next(isHead)];
      const noDate = (s: string) => s.replace(/\r\nDate: [^\r]+/, '');
      expect(noDate(x.head), request).toBe(noDate(y.head));
      expect(x.body.equals(y.body), request).toBe(true);
    }
    expect(h.front!.served).toBe(cases.length);
    expect(h.front!.handedOff).toBe(0);
  });

  it('answers two pipelined requests from one write, in order, on one connection', async () => {
    await lean();
    const c = client(h);
    await c.write(get('/provision/001565000000.cfg') + get(MAC_FILE));
    const first = await c.next();
    const second = await c.next();
    expect(first.status).toBe(404);
    expect(second.status).toBe(200);
    expect(second.body.toString()).toContain('s3cret!');
    expect(second.headers['cache-control']).toBe('no-store');
    expect(second.headers.connection).toBe('keep-alive');
    expect(c.ended).toBe(false);
  });

  it('assembles a head split across three writes', async () => {
    await lean();
    const c = client(h);
    const request = get(MAC_FILE);
    await c.write(request.slice(0, 7));
    await new Promise((r) => setTimeout(r, 20));
    await c.write(request.slice(7, 40));
    await new Promise((r) => setTimeout(r, 20));
    await c.write(request.slice(40));
    expect((await c.next()).status).toBe(200);
    expect(h.front!.served).toBe(1);
  });

  it('reads Host and User-Agent trimmed wherever a head sits in the buffer, and replays by them', async () => {
    await lean();
    const c = client(h);
    await c.write(get(MAC_FILE));
    const first = await c.next();
    expect(first.status).toBe(200);
    const replayed = h.front!.replayed;
    // A second head behind another in one write (it starts past offset 0), its values padded with SP and HTAB:
    // the same User-Agent and Host once trimmed, so the kept answer is replayed.
    await c.write(`GET /provision/nothing-here.txt HTTP/1.1\r\nHost: prov\r\n\r\nGET ${MAC_FILE} HTTP/1.1\r\nHost: \t prov \t\r\nUser-Agent:  \t${UA} \t \r\n\r\n`);
    expect((await c.next()).status).toBe(404);
    const again = await c.next();
    expect(again.status).toBe(200);
    expect(again.body.equals(first.body)).toBe(true);
    expect(h.front!.replayed - replayed).toBe(1);
    // Another User-Agent at the same offset is not this answer's request: decided in full, not replayed.
    await c.write(`GET /provision/nothing-here.txt HTTP/1.1\r\nHost: prov\r\n\r\nGET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}x\r\n\r\n`);
    expect((await c.next()).status).toBe(404);
    expect((await c.next()).status).toBe(200);
    expect(h.front!.replayed - replayed).toBe(1);
  });

  it('sends no body for HEAD (the next response follows the head directly) and keeps Content-Length', async () => {
    await lean();
    const c = client(h);
    await c.write(`HEAD ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\r\n\r\n` + get('/provision/001565000000.cfg'));
    const head = await c.next(true);
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    const next = await c.next();
    expect(next.status).toBe(404);
    expect(next.body.toString()).toBe('Not Found\n');
  });

  it('closes after Connection: close and after HTTP/1.0; keeps HTTP/1.0 keep-alive open', async () => {
    await lean();
    const a = client(h);
    await a.write(get(MAC_FILE, 'Connection: close\r\n') + get(MAC_FILE));
    const r = await a.next();
    expect(r.headers.connection).toBe('close');
    await a.closed();
    expect(a.rest().length).toBe(0); // the request after close was not answered

    const b = client(h);
    await b.write(`GET ${MAC_FILE} HTTP/1.0\r\nUser-Agent: ${UA}\r\n\r\n`);
    expect((await b.next()).status).toBe(200);
    await b.closed();

    const c = client(h);
    await c.write(`GET ${MAC_FILE} HTTP/1.0\r\nUser-Agent: ${UA}\r\nConnection: Keep-Alive\r\n\r\n`);
    const kept = await c.next();
    expect(kept.headers.connection).toBe('keep-alive');
    await c.write(`GET ${MAC_FILE} HTTP/1.0\r\nUser-Agent: ${UA}\r\nConnection: keep-alive\r\n\r\n`);
    expect((await c.next()).status).toBe(200);
    expect(c.ended).toBe(false);
  });

  it('refuses an oversized head with 431 and closes', async () => {
    await lean();
    const c = client(h);
    await c.write(get(MAC_FILE, `X-Pad: ${'a'.repeat(9000)}\r\n`));
    const r = await c.next();
    expect(r.status).toBe(431);
    expect(r.headers.connection).toBe('close');
    await c.closed();
    // A head that never ends is cut at the limit too, without waiting for its end.
    const d = client(h);
    await d.write(`GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nX-Pad: ${'a'.repeat(9000)}`);
    expect((await d.next()).status).toBe(431);
    await d.closed();
  });

  it('refuses request bodies (Transfer-Encoding, Content-Length) with 400 and closes, answering nothing smuggled', async () => {
    await lean();
    for (const extra of [
      'Transfer-Encoding: chunked\r\n',
      'Content-Length: 5\r\n',
      'Content-Length: 0\r\nTransfer-Encoding: chunked\r\n',
      'Content-Length: 00\r\n',
    ]) {
      const c = client(h);
      await c.write(get(MAC_FILE, extra) + get(MAC_FILE));
      const r = await c.next();
      expect(r.status, extra).toBe(400);
      await c.closed();
      expect(c.rest().length, extra).toBe(0);
    }
    const ok = client(h);
    await ok.write(get(MAC_FILE, 'Content-Length: 0\r\n'));
    expect((await ok.next()).status).toBe(200);
  });

  it('refuses header injection: obs-fold, bare CR/LF or NUL in values, bad names, HTTP/1.1 without Host', async () => {
    await lean();
    const bad = [
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\r\n folded: yes\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\nX-Injected: 1\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\rX-Injected: 1\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser-Agent: a\0b\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nUser Agent: ${UA}\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nNoColon\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\n: empty-name\r\n\r\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nUser-Agent: ${UA}\r\n\r\n`,
    ];
    for (const request of bad) {
      const c = client(h);
      await c.write(request);
      const r = await c.next();
      expect(r.status, JSON.stringify(request)).toBe(400);
      expect(r.body.toString()).not.toContain('s3cret');
      await c.closed();
    }
    expect(h.front!.served).toBe(0);
  });

  it('hands everything else to node:http: the API, other methods, odd targets — also mid-connection', async () => {
    await lean();
    // An API request on the same port.
    const api = await h.get(`/v2/accounts/${'f'.repeat(32)}/provisioning/x`);
    expect(api.status).toBe(404);
    expect(api.body).toContain('bad_identifier');
    // Another method to /provision/: node:http answers (405 with Allow) through the same handler.
    const post = client(h);
    await post.write(`POST ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nContent-Length: 0\r\n\r\n`);
    const r = await post.next();
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    // A phone fetch, then an API request on the same keep-alive connection: both answered, in order.
    const mixed = client(h);
    await mixed.write(get(MAC_FILE) + `GET /v2/accounts/${ACCOUNT}/nothing HTTP/1.1\r\nHost: prov\r\n\r\n`);
    expect((await mixed.next()).status).toBe(200);
    expect((await mixed.next()).status).toBe(404);
    // A target this parser does not take (a raw non-ASCII byte) is node:http's to judge (llhttp says 400).
    const odd = client(h);
    await odd.write(`GET /provision/\u00e9.cfg HTTP/1.1\r\nHost: prov\r\n\r\n`);
    expect((await odd.next()).status).toBe(400);
    expect(h.front!.handedOff).toBeGreaterThanOrEqual(3);
  });

  it('cuts off a client that does not finish its head in time (slowloris), and idle connections', async () => {
    // The front door's deadlines run on this clock: moved by hand, no test waits for wall time to pass.
    const clock = { t: 0 };
    await lean({ frontDoor: { headTimeoutMs: 200, idleTimeoutMs: 400, now: () => clock.t } });
    /** Moves the clock `stepMs` at a time, letting the sockets and the door's sweep run between steps, until `done`. */
    const runClock = async (done: () => boolean, stepMs: number, eachStep?: () => void) => {
      for (let moved = 0; !done() && moved < 60_000; moved += stepMs) {
        clock.t += stepMs;
        eachStep?.();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const slow = client(h);
    await slow.write(`GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\n`);
    let answered = false;
    const reply = slow.next().finally(() => (answered = true));
    await runClock(() => answered, 20, () => slow.socket.write('X-Drip: 1\r\n')); // keeps sending, never finishes
    const r = await reply;
    expect(r.status).toBe(408);
    await slow.closed();
    const silent = client(h);
    await runClock(() => silent.ended, 50);
    await silent.closed(); // connected, never sent a byte
    const idle = client(h);
    await idle.write(get(MAC_FILE));
    expect((await idle.next()).status).toBe(200);
    await runClock(() => idle.ended, 50);
    await idle.closed(); // idle after its answer
    expect(h.front!.connections).toBe(0);
  });

  it('respects backpressure: many pipelined requests from a client that reads late are all answered in order', async () => {
    await lean();
    const c = client(h);
    c.socket.pause();
    const n = 3000;
    let batch = '';
    for (let i = 0; i < n; i++) batch += i % 2 ? get(MAC_FILE) : get('/provision/nothing-here.txt');
    await c.write(batch);
    await new Promise((r) => setTimeout(r, 100));
    c.socket.resume();
    for (let i = 0; i < n; i++) expect((await c.next()).status).toBe(i % 2 ? 200 : 404);
    expect(h.front!.served).toBe(n);
  });

  it('answers a bounded number of connections per turn of the loop, the others next turn, first come first served', async () => {
    // Bytes are delivered by emitting 'data' (all in one turn), so the sockets keep node's own reads.
    await lean({ frontDoor: { connectionsPerTurn: 2, sharedReads: false } });
    // Server-side sockets adopted by the front door, their requests delivered in one turn (one synchronous block).
    const acceptor = net.createServer();
    await new Promise<void>((r) => acceptor.listen(0, '127.0.0.1', r));
    const port = (acceptor.address() as net.AddressInfo).port;
    const accepted: net.Socket[] = [];
    acceptor.on('connection', (s) => accepted.push(s));
    const clients = Array.from({ length: 5 }, () => rawClient({ base: `http://127.0.0.1:${port}` }, sockets));
    while (accepted.length < clients.length) await new Promise((r) => setTimeout(r, 5));
    acceptor.close();
    sockets.push(...accepted);
    for (const s of accepted) h.front!.adopt(s);
    const turn = () => new Promise((r) => setImmediate(r));
    const before = h.front!.served;
    const answered = () => accepted.map((s) => s.bytesWritten > 0);
    for (const s of accepted) s.emit('data', Buffer.from(get(MAC_FILE), 'latin1'));
    expect(h.front!.served - before).toBe(2);
    expect(answered()).toEqual([true, true, false, false, false]);
    await turn();
    expect(h.front!.served - before).toBe(4);
    expect(answered()).toEqual([true, true, true, true, false]);
    await turn();
    expect(h.front!.served - before).toBe(5);
    for (const c of clients) expect((await c.next()).status).toBe(200);
  });

  it('server.close() closes idle lean connections instead of waiting for them', async () => {
    await lean();
    const c = client(h);
    await c.write(get(MAC_FILE));
    await c.next();
    await h.close();
    await c.closed();
  });

  it('answers bare-LF heads and a repeated Content-Length as node:http does: 400 at once, not a 408 after the head timeout', async () => {
    // A head timeout far beyond the raw client's wait: only an immediate answer can arrive.
    await lean({ frontDoor: { headTimeoutMs: 600_000 } });
    other = await startHarness({ frontDoor: false });
    seedFullDevice(other, { id: 'd', mac: '001565aabbcc' });
    const cases = [
      `GET ${MAC_FILE} HTTP/1.1\nHost: prov\n\n`,
      `GET ${MAC_FILE} HTTP/1.1\nHost: prov\nUser-Agent: ${UA}\n`, // not even finished
      `GET /v2/accounts/${ACCOUNT}/nothing HTTP/1.1\nHost: prov\n\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\nUser-Agent: ${UA}\n\n`,
      `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n`,
    ];
    for (const request of cases) {
      const [a, b] = [client(h), client(other)];
      await a.write(request);
      await b.write(request);
      const [x, y] = [await a.next(), await b.next()];
      expect(y.status, JSON.stringify(request)).toBe(400);
      expect(x.status, JSON.stringify(request)).toBe(400);
      expect(x.body.toString()).not.toContain('s3cret');
    }
    // A bare LF split across writes, after a well-formed request on the same connection: that one is answered,
    // the bad one is node:http's at once.
    const c = client(h);
    await c.write(get(MAC_FILE) + `GET ${MAC_FILE} HTTP/1.1\r\nHost: prov\r`);
    expect((await c.next()).status).toBe(200);
    await c.write(`\nUser-Agent: x\n`);
    expect((await c.next()).status).toBe(400);
    await c.closed();
  });
});

/** The rehearsal before the port opens (rehearsal.ts): a kept answer replayed over connections the front door adopts. */
describe('rehearsal through the front door', () => {
  const head = Buffer.from(get(MAC_FILE), 'latin1');

  it('replays a kept answer the number of times asked', async () => {
    await lean();
    // A phone's fetch keeps the answer; its size on the wire tells one replay from the next.
    const c = client(h);
    await c.write(get(MAC_FILE));
    const res = await c.next();
    expect(res.status).toBe(200);
    const bytes = Buffer.byteLength(res.head, 'latin1') + 4 + res.body.length;
    const before = h.front!.replayed;
    expect(await rehearse(h.front!, head, bytes, { requests: 500, connections: 4, deadlineMs: 60_000 })).toBe(500);
    expect(h.front!.replayed - before).toBe(500);
  });

  it('stops at the first answer that is not a replay', async () => {
    await lean();
    // Nothing kept yet: the front door decides the first requests in full.
    expect(await rehearse(h.front!, head, 1, { requests: 500, connections: 4, deadlineMs: 60_000 })).toBe(0);
    expect(h.front!.served).toBeLessThan(500);
  });
});
