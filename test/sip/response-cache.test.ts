import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSipService } from '../../src/sip/embedded.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';
import { UdpPhone } from './helpers/udp-phone.js';

/**
 * L1 of the hardening drills: the cache of final responses (re-sent to retransmitted requests) was bounded
 * by time only, so 4,000 REGISTERs of 60 KB added 400 MB. Here the budget is 256 KiB and ~56 KB REGISTERs
 * (padding in Call-ID and From tag, both echoed in the answer) arrive from 127.0.0.120, each with its own
 * branch. Real datagrams to the real embedded server.
 */
const REALM = 'cache.test';
const ACC = 'accresponsecache000000000000001';
const BUDGET = 256 * 1024;
const PAD = 'x'.repeat(28_000);
const nonceIn = (raw: string) => /nonce="([^"]+)"/.exec(raw)![1];

describe('SIP response cache', () => {
  const directory = new MemoryDirectory();
  let sip: EmbeddedSipService;
  let phone: UdpPhone;

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    sip = new EmbeddedSipService({ config: sipTestConfig({ SIP_RESPONSE_CACHE_BYTES: String(BUDGET) }), log: quietLog, directory });
    await sip.start();
    phone = await UdpPhone.open('127.0.0.120', { address: '127.0.0.1', port: sip.address()!.port });
  });

  afterAll(async () => {
    phone.close();
    await sip.stop();
  });

  it('holds no more than its byte budget, dropping the oldest answers first', async () => {
    const messages = Array.from({ length: 40 }, (_, i) => phone.registerMessage({ user: '7001', realm: REALM, callId: `cache-${i}-${PAD}`, cseq: 1 }));
    expect(Buffer.byteLength(messages[0]!)).toBeGreaterThan(56_000);
    const first: string[] = [];
    for (const m of messages) {
      const reply = await phone.send(m);
      expect(reply.status).toBe(401);
      first.push(reply.raw);
      expect(sip.stats().responseCacheBytes).toBeLessThanOrEqual(BUDGET);
    }
    expect(sip.stats().responseCacheBytes).toBeGreaterThan(BUDGET / 2);

    // The newest answer is still kept: its retransmission gets the very same bytes (same nonce)...
    expect((await phone.send(messages.at(-1)!)).raw).toBe(first.at(-1));
    // ...the oldest was dropped: its retransmission is handled again and challenged with a new nonce.
    const again = await phone.send(messages[0]!);
    expect(again.status).toBe(401);
    expect(nonceIn(again.raw)).not.toBe(nonceIn(first[0]!));
    expect(sip.stats().responseCacheBytes).toBeLessThanOrEqual(BUDGET);
  });

  it('holds only what it counts: a cached answer keeps no part of its 60 KB request alive', async () => {
    // V8 keeps a slice of a string as a view on the whole original; a cache key cut from the datagram held
    // each whole request (1,000 × 60 KB ≈ 60 MB here) while the budget counted a few hundred bytes per entry.
    const child = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(import.meta.dirname, 'fixtures/cache-heap.ts')], { cwd: path.join(import.meta.dirname, '../..') });
    const { answered, retained, cacheBytes } = JSON.parse(child.stdout) as { answered: number; retained: number; cacheBytes: number };
    expect(answered).toBe(1000);
    expect(cacheBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(retained).toBeLessThan(8 * 1024 * 1024);
  });
});
