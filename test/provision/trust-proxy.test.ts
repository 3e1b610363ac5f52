import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { rawClient } from './support/raw-client.js';

/**
 * TRUST_PROXY on both phone transports: X-Forwarded-For names the client only when the socket's peer is a trusted
 * proxy. The client is what bans count and what the last-fetch entry records. The harness connects from 127.0.0.1.
 */
let h: Harness;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
});

const UA = 'Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc';
const FILE = '/provision/001565aabbcc.cfg';
const PROBES = { PROVISION_PROBE_LIMIT: '2', PROVISION_PROBE_WINDOW: '60', PROVISION_BAN_SECONDS: '600' };
const get = (path: string, forwardedFor?: string) =>
  `GET ${path} HTTP/1.1\r\nHost: prov\r\nUser-Agent: ${UA}\r\n${forwardedFor === undefined ? '' : `X-Forwarded-For: ${forwardedFor}\r\n`}\r\n`;

async function start(frontDoor: boolean, env: Record<string, string>) {
  h = await startHarness({ frontDoor: frontDoor ? {} : false, env: { ...PROBES, ...env } });
  seedFullDevice(h, { id: 'd', mac: '001565aabbcc', brand: 'yealink' });
  return rawClient(h, sockets);
}

const lastAddress = () => (h.service.describe(ACCOUNT, 'd')?.last_fetch as { address: string } | undefined)?.address;

async function fetchOn(c: ReturnType<typeof rawClient>, path: string, forwardedFor?: string) {
  await c.write(get(path, forwardedFor));
  return (await c.next()).status;
}

/**
 * Unknown MACs, a distinct one each, until the address is refused (the limit is 2, so that is the third): returns
 * how many probes that took, or 0 when it never was within 10.
 */
async function probesUntilBanned(c: ReturnType<typeof rawClient>, forwardedFor: (i: number) => string | undefined) {
  for (let i = 1; i <= 10; i++) {
    const status = await fetchOn(c, `/provision/0015650000${String(i).padStart(2, '0')}.cfg`, forwardedFor(i));
    if (status === 403) return i;
    expect(status).toBe(404);
  }
  return 0;
}

for (const frontDoor of [true, false]) {
  describe(`client address behind proxies (${frontDoor ? 'lean front door' : 'node:http'})`, () => {
    it('ignores X-Forwarded-For from a peer that is not a trusted proxy (default: none is)', async () => {
      const c = await start(frontDoor, {});
      expect(await fetchOn(c, FILE, '203.0.113.7')).toBe(200);
      expect(lastAddress()).toBe('127.0.0.1');
      // A forged header per probe does not spread the count over made-up clients: the peer itself is banned.
      expect(await probesUntilBanned(c, (i) => `198.51.100.${i}`)).toBeGreaterThan(0);
      expect(await fetchOn(c, FILE, '203.0.113.8')).toBe(403);
    });

    it('ignores it from an untrusted peer even when TRUST_PROXY lists other proxies', async () => {
      const c = await start(frontDoor, { TRUST_PROXY: '10.0.0.0/8, 192.0.2.1' });
      expect(await fetchOn(c, FILE, '203.0.113.7')).toBe(200);
      expect(lastAddress()).toBe('127.0.0.1');
    });

    it('believes a trusted proxy: the rightmost untrusted hop is the client, in last-fetch and in the probe count', async () => {
      const c = await start(frontDoor, { TRUST_PROXY: '127.0.0.1,10.0.0.0/8' });
      // The client forged a first hop; the outer proxy (10.1.2.3) appended the real one, the inner one its own.
      expect(await fetchOn(c, FILE, '198.51.100.99, 203.0.113.7, 10.1.2.3')).toBe(200);
      expect(lastAddress()).toBe('203.0.113.7');
      // Probes by one client behind the proxy ban that client only, not the proxy nor its other clients.
      expect(await probesUntilBanned(c, () => '203.0.113.66')).toBeGreaterThan(0);
      expect(await fetchOn(c, FILE, '203.0.113.66')).toBe(403);
      expect(await fetchOn(c, FILE, '203.0.113.7')).toBe(200);
      expect(lastAddress()).toBe('203.0.113.7');
      expect(await fetchOn(c, FILE)).toBe(200); // the proxy's own request (no header)
      expect(lastAddress()).toBe('127.0.0.1');
    });
  });
}
