import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rehearse } from '../../src/provision/rehearsal.js';
import { seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { rawClient } from './support/raw-client.js';

/**
 * The rehearsal before the port opens (rehearsal.ts) on a real front door: it replays a kept answer over loopback
 * connections the front door adopts, and stops at once when the front door does not replay what it is sent.
 */
let h: Harness;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
});

const UA = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc';
const head = Buffer.from(`GET /provision/001565aabbcc.cfg HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\r\n\r\n`, 'latin1');

async function start() {
  h = await startHarness({ frontDoor: {} });
  seedFullDevice(h, { id: 'd', mac: '001565aabbcc' });
}

/** One fetch by a phone: its answer is kept, and this is its size on the wire. */
async function fetchedSize(): Promise<number> {
  const c = rawClient(h, sockets);
  await c.write(head.toString('latin1'));
  const res = await c.next();
  expect(res.status).toBe(200);
  return Buffer.byteLength(res.head, 'latin1') + 4 + res.body.length;
}

describe('rehearsal', () => {
  it('replays a kept answer the number of times asked, over adopted connections', async () => {
    await start();
    const bytes = await fetchedSize();
    const before = h.front!.replayed;
    const answered = await rehearse(h.front!, head, bytes, { requests: 500, connections: 4, deadlineMs: 60_000 });
    expect(answered).toBe(500);
    expect(h.front!.replayed - before).toBe(500);
  });

  it('stops at the first answer that is not a replay', async () => {
    await start();
    // Nothing kept yet: the front door decides the first requests in full.
    const answered = await rehearse(h.front!, head, 1, { requests: 500, connections: 4, deadlineMs: 60_000 });
    expect(answered).toBe(0);
    expect(h.front!.served).toBeLessThan(500);
  });
});
