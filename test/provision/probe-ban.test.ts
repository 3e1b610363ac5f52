import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clientKeys } from '../../src/net/client-network.js';
import { ProbeGuard } from '../../src/provision/probe-guard.js';
import { seedFullDevice, startHarness, type Harness } from './support/harness.js';
import { clientsFrom, type Fetched } from './support/from-address.js';

/** Drill H4: MAC probing spread over many addresses, IPv6 networks, bans across restarts. */

let h: Harness | undefined;
let clients: ReturnType<typeof clientsFrom> | undefined;
const dirs: string[] = [];
afterEach(async () => {
  clients?.close();
  clients = undefined;
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Unknown MACs of the drill's OUI, clear of the planted ones. */
const unknownMac = (i: number) => `805ec0${(0x1800000 + i).toString(16).slice(1)}.cfg`;
/** What a client can see of an answer: everything but the Date. */
const visible = (r: Fetched) => ({ status: r.status, body: r.body, headers: { ...r.headers, date: undefined } });

describe('client keys', () => {
  it('IPv4 /24, IPv6 /64, IPv4-mapped IPv6 as IPv4, IPv6 text expanded', () => {
    expect(clientKeys('192.0.2.7')).toEqual({ address: '192.0.2.7', network: '192.0.2.0/24' });
    expect(clientKeys('::ffff:192.0.2.7')).toEqual({ address: '192.0.2.7', network: '192.0.2.0/24' });
    expect(clientKeys('::FFFF:c000:0207')).toEqual({ address: '192.0.2.7', network: '192.0.2.0/24' });
    expect(clientKeys('2001:db8::1')).toEqual({ address: '2001:db8:0:0:0:0:0:1', network: '2001:db8:0:0::/64' });
    expect(clientKeys('2001:0DB8:0000:0000:ffff:0:0:1').network).toBe('2001:db8:0:0::/64');
    expect(clientKeys('2001:db8::1').address).toBe(clientKeys('2001:db8:0:0::0001').address);
    expect(clientKeys('fe80::1%eth0')).toEqual({ address: 'fe80:0:0:0:0:0:0:1', network: 'fe80:0:0:0::/64' });
    expect(clientKeys('64:ff9b::192.0.2.7').address).toBe('64:ff9b:0:0:0:0:c000:207');
    expect(clientKeys('::1').network).toBe('0:0:0:0::/64');
    expect(clientKeys('')).toEqual({ address: '', network: '' });
    expect(clientKeys('x'.repeat(1000)).address.length).toBeLessThanOrEqual(45);
  });
});

describe('probe guard (unit, injected clock)', () => {
  const make = (over: Partial<ConstructorParameters<typeof ProbeGuard>[0]> = {}) => {
    const clock = { now: 1_000_000 };
    const guard = new ProbeGuard({ limit: 20, networkLimit: 100, windowSeconds: 60, banSeconds: 600, now: () => clock.now, ...over });
    return { guard, clock };
  };

  it('an IPv6 /64 is limited as a whole, and a banned /64 refuses all its addresses', () => {
    const { guard } = make();
    let banned = -1;
    for (let i = 1; i <= 1000 && banned < 0; i++) if (guard.probe(`2001:db8:1:2::${i.toString(16)}`)) banned = i;
    expect(banned).toBe(101); // one probe each, the 101st of the network trips it
    expect(guard.isBanned('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(true);
    expect(guard.isBanned('2001:db8:1:3::1')).toBe(false);
    expect(guard.banned()).toEqual(['2001:db8:1:2::/64']);
  });

  it('an IPv4-mapped address and its IPv4 form count as one address', () => {
    const { guard } = make({ limit: 3 });
    for (let i = 0; i < 3; i++) expect(guard.probe(i % 2 ? '::ffff:198.51.100.9' : '198.51.100.9')).toBe(false);
    expect(guard.probe('::ffff:198.51.100.9')).toBe(true);
    expect(guard.isBanned('198.51.100.9')).toBe(true);
    expect(guard.isBanned('198.51.100.10')).toBe(false); // the address only: its network is under its limit
  });

  it('a ban lasts banSeconds and is not extended by requests during it', () => {
    const { guard, clock } = make({ limit: 1 });
    guard.probe('203.0.113.1');
    expect(guard.probe('203.0.113.1')).toBe(true);
    clock.now += 300_000;
    expect(guard.probe('203.0.113.1')).toBe(true);
    clock.now += 300_001;
    expect(guard.isBanned('203.0.113.1')).toBe(false);
  });

  it('reads no clock while nobody is banned, and still enforces a ban made after the last one ran out', () => {
    const clock = { now: 1_000_000, reads: 0 };
    const guard = new ProbeGuard({ limit: 1, networkLimit: 100, windowSeconds: 60, banSeconds: 600, now: () => (clock.reads++, clock.now) });
    for (let i = 0; i < 100; i++) expect(guard.isBanned('203.0.113.1')).toBe(false);
    expect(clock.reads).toBe(0);
    guard.probe('203.0.113.1');
    expect(guard.probe('203.0.113.1')).toBe(true);
    expect(guard.isBanned('203.0.113.1')).toBe(true);
    clock.now += 600_001;
    expect(guard.isBanned('203.0.113.1')).toBe(false); // ran out: the clock is read once more to learn it
    const reads = clock.reads;
    expect(guard.isBanned('203.0.113.1')).toBe(false);
    expect(clock.reads).toBe(reads);
    guard.probe('198.51.100.4');
    expect(guard.probe('198.51.100.4')).toBe(true);
    expect(guard.isBanned('198.51.100.4')).toBe(true);
    expect(guard.isBanned('203.0.113.1')).toBe(false);
  });

  it('keeps both tables bounded under a flood of new addresses, and keeps bans over idle entries', () => {
    const { guard, clock } = make({ limit: 1, networkLimit: 1_000_000, maxTracked: 1000 });
    guard.probe('198.51.100.1');
    guard.probe('198.51.100.1');
    expect(guard.isBanned('198.51.100.1')).toBe(true);
    for (let i = 0; i < 50_000; i++) {
      guard.probe(`2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`);
      if (i % 1000 === 0) clock.now += 1;
    }
    expect(guard.tracked.addresses).toBeLessThanOrEqual(1000);
    expect(guard.tracked.networks).toBeLessThanOrEqual(1000);
    expect(guard.isBanned('198.51.100.1')).toBe(true);
  });
});

describe('probing ban over many real source addresses', () => {
  it('bans the /24 when its addresses share out the probes (drill H4: 20 MACs each, planted devices after)', async () => {
    h = await startHarness(); // default limits: 20 per address, 100 per network, per 60 s
    const planted = ['805ec0000002', '805ec0a1b2c3', '805ec0ffee01'];
    planted.forEach((mac, i) => seedFullDevice(h!, { id: `p${i}`, mac }));
    clients = clientsFrom(h.base);
    const answers: number[] = [];
    let n = 0;
    for (let host = 2; host <= 30; host++) {
      for (let k = 0; k < 20; k++) answers.push((await clients.get(`127.0.0.${host}`, unknownMac(n++))).status);
    }
    expect(answers.slice(0, 100).every((s) => s === 404)).toBe(true);
    expect(answers.slice(100).every((s) => s === 403)).toBe(true);
    // The planted devices give nothing away to the network, whichever of its addresses asks.
    for (const [i, mac] of planted.entries()) {
      const res = await clients.get(`127.0.0.${100 + i}`, `${mac}.cfg`);
      expect(res.status).toBe(403);
      expect(res.body).not.toContain('s3cret');
    }
    // Another network is not affected.
    expect((await clients.get('127.0.1.5', `${planted[0]}.cfg`)).status).toBe(200);
    expect(h.logs.some((l) => l.includes('network banned for probing') && l.includes('127.0.0.0/24'))).toBe(true);
  });

  it('PROVISION_PREFIX_PROBE_LIMIT sets the network limit', async () => {
    h = await startHarness({ env: { PROVISION_PREFIX_PROBE_LIMIT: '5' } });
    clients = clientsFrom(h.base);
    for (let i = 0; i < 5; i++) expect((await clients.get(`127.0.0.${10 + i}`, unknownMac(i))).status).toBe(404);
    expect((await clients.get('127.0.0.20', unknownMac(99))).status).toBe(403);
  });

  it('during a ban a known MAC and an unknown MAC get the very same answer', async () => {
    h = await startHarness({ env: { PROVISION_PROBE_LIMIT: '2' } });
    seedFullDevice(h, { id: 'd', mac: '805ec0000001' });
    clients = clientsFrom(h.base);
    for (let i = 0; i < 2; i++) expect((await clients.get('127.0.0.7', unknownMac(100 + i))).status).toBe(404);
    const unknown = await clients.get('127.0.0.7', unknownMac(200));
    const known = await clients.get('127.0.0.7', '805ec0000001.cfg');
    expect(unknown.status).toBe(403);
    expect(visible(known)).toEqual(visible(unknown));
  });
});

describe('bans across a restart', () => {
  const banFile = (dataDir: string) => path.join(dataDir, 'provisioning', 'bans.json');

  it('a banned address and a banned network are still refused after a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'prov-bans-'));
    dirs.push(dataDir);
    const env = { PROVISION_PROBE_LIMIT: '3', PROVISION_PREFIX_PROBE_LIMIT: '8' };
    h = await startHarness({ dataDir, env });
    seedFullDevice(h, { id: 'd', mac: '805ec0000001' });
    clients = clientsFrom(h.base);
    for (let i = 0; i < 4; i++) await clients.get('127.0.0.98', unknownMac(i)); // .98 banned by itself
    for (let i = 0; i < 5; i++) await clients.get(`127.0.2.${i + 1}`, unknownMac(10 + i)); // 127.0.2.0/24: 5 …
    for (let i = 0; i < 4; i++) await clients.get(`127.0.2.${i + 10}`, unknownMac(20 + i)); // … + 4 > 8: banned
    expect((await clients.get('127.0.0.98', '805ec0000001.cfg')).status).toBe(403);
    expect((await clients.get('127.0.2.200', '805ec0000001.cfg')).status).toBe(403);
    clients.close();
    await h.close();

    const saved = JSON.parse(readFileSync(banFile(dataDir), 'utf8'));
    expect(Object.keys(saved.addresses)).toEqual(['127.0.0.98']);
    expect(Object.keys(saved.networks)).toEqual(['127.0.2.0/24']);

    h = await startHarness({ dataDir, env });
    seedFullDevice(h, { id: 'd', mac: '805ec0000001' });
    clients = clientsFrom(h.base);
    expect((await clients.get('127.0.0.98', '805ec0000001.cfg')).status).toBe(403);
    expect((await clients.get('127.0.2.77', '805ec0000001.cfg')).status).toBe(403);
    expect((await clients.get('127.0.0.99', '805ec0000001.cfg')).status).toBe(200);
    // And it ends.
    h.clock.now += 601_000;
    expect((await clients.get('127.0.0.98', '805ec0000001.cfg')).status).toBe(200);
  });

  it('reads a hand-edited or damaged file field by field: bad and expired entries dropped, never a crash', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'prov-bans-'));
    dirs.push(dataDir);
    mkdirSync(path.join(dataDir, 'provisioning'), { recursive: true });
    const soon = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(
      banFile(dataDir),
      JSON.stringify({
        version: 1,
        addresses: {
          '127.0.0.41': soon, // kept
          '::ffff:127.0.0.42': Date.now() + 60_000, // kept, as 127.0.0.42 (epoch ms accepted too)
          '127.0.0.43': past, // expired
          '127.0.0.44': 'tomorrow', // not a time
          'not-an-ip': soon,
          ['__proto__']: soon,
          '127.0.0.45': { until: soon },
          '127.0.0.46': new Date(Date.now() + 10 * 365 * 86_400_000).toISOString(), // capped at the ban time
        },
        networks: { '127.0.3.9/24': soon, '127.0.4.0/16': soon, '127.0.5.0': soon },
      }),
    );
    h = await startHarness({ dataDir });
    seedFullDevice(h, { id: 'd', mac: '805ec0000001' });
    clients = clientsFrom(h.base);
    const status = async (from: string) => (await clients!.get(from, '805ec0000001.cfg')).status;
    expect(await status('127.0.0.41')).toBe(403);
    expect(await status('127.0.0.42')).toBe(403);
    expect(await status('127.0.3.200')).toBe(403); // the /24 written with a host part
    for (const from of ['127.0.0.43', '127.0.0.44', '127.0.0.45', '127.0.4.1', '127.0.5.1']) expect(await status(from), from).toBe(200);
    expect(h.logs.some((l) => l.includes('ban file entries skipped'))).toBe(true);
    h.clock.now += 601_000;
    expect(await status('127.0.0.46')).toBe(200);
    clients.close();
    await h.close();

    for (const damaged of ['{"addresses": {"127.0.0.41": "', '[1,2,3]', 'null', '{"addresses": [1], "networks": "x"}', '\u0000\u0001']) {
      writeFileSync(banFile(dataDir), damaged);
      h = await startHarness({ dataDir });
      seedFullDevice(h, { id: 'd', mac: '805ec0000001' });
      expect((await h.get('805ec0000001.cfg')).status, damaged).toBe(200);
      await h.close();
    }
    h = undefined;
  });
});
