import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { NonceAuthority } from '../../src/digest/digest.js';
import { GuessLimiter } from '../../src/sip/guess-limiter.js';
import { RefusalLog } from '../../src/sip/refusal-log.js';
import { SourceBan, sourceKey } from '../../src/sip/source-ban.js';

/**
 * The registrar's brute-force bookkeeping on its own (the wire behaviour is in brute-force.test.ts):
 * limits, and that every map stays bounded whatever a flood of sources, usernames or nonces does.
 * Clocks are plain variables moved by hand.
 */
describe('SourceBan', () => {
  it('bans at the limit within the window, for the ban time, not extended by attempts during it', () => {
    let now = 0;
    const bans = new SourceBan({ limit: 3, windowMs: 1000, banMs: 5000, now: () => now });
    expect([bans.fail('a'), bans.fail('a')]).toEqual([false, false]);
    now = 1000; // the window passed: counting starts again
    expect([bans.fail('a'), bans.fail('a'), bans.isBanned('a')]).toEqual([false, false, false]);
    expect(bans.fail('a')).toBe(true);
    expect(bans.isBanned('a')).toBe(true);
    expect(bans.isBanned('b')).toBe(false);
    now = 5999;
    expect(bans.fail('a')).toBe(false);
    expect(bans.isBanned('a')).toBe(true);
    now = 6000;
    expect(bans.isBanned('a')).toBe(false);
  });

  it('keeps at most maxSources entries, dropping quiet ones before bans', () => {
    const bans = new SourceBan({ limit: 2, windowMs: 1000, banMs: 60_000, maxSources: 100, now: () => 0 });
    bans.fail('target');
    bans.fail('target');
    expect(bans.isBanned('target')).toBe(true);
    for (let i = 0; i < 99; i++) bans.fail(`s${i}`);
    expect(bans.size).toBe(100);
    expect(bans.isBanned('target')).toBe(true);
    for (let i = 0; i < 10_000; i++) bans.fail(`flood${i}`);
    expect(bans.size).toBeLessThanOrEqual(100);
    expect(bans.isBanned('target')).toBe(true);
  });

  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('counts %s as %s', (address, key) => {
    expect(sourceKey(address)).toBe(key);
  });
});

describe('GuessLimiter', () => {
  const key = (u: string) => GuessLimiter.key('r.test', u);

  it('lets a burst of failures through, then one check per 60/rate seconds; the trusted source always', () => {
    let now = 0;
    const g = new GuessLimiter({ burst: 3, ratePerMinute: 6, now: () => now });
    const u = key('1001');
    g.succeeded(u, 'phone');
    for (let i = 0; i < 3; i++) {
      expect(g.allows(u, 'x')).toBe(true);
      g.failed(u);
    }
    expect(g.allows(u, 'x')).toBe(false);
    expect(g.allows(u, 'phone')).toBe(true);
    now = 9_999;
    expect(g.allows(u, 'x')).toBe(false);
    now = 10_000;
    expect(g.allows(u, 'x')).toBe(true);
    g.failed(u);
    expect(g.allows(u, 'x')).toBe(false);
    expect(g.allows(key('1002'), 'x')).toBe(true); // other users are not affected
  });

  it('keys usernames case-insensitively and cuts huge ones', () => {
    expect(GuessLimiter.key('R.Test', 'Alice')).toBe(GuessLimiter.key('r.test', 'alice'));
    expect(GuessLimiter.key('r', 'x'.repeat(10_000)).length).toBeLessThanOrEqual(320);
  });

  it('stays bounded under a flood of invented usernames, which cannot push out the user under attack', () => {
    const g = new GuessLimiter({ burst: 2, ratePerMinute: 1, maxUsers: 50, now: () => 0 });
    g.failed(key('target'));
    g.failed(key('target'));
    for (let i = 0; i < 5000; i++) g.failed(key(`ghost${i}`));
    expect(g.size.buckets).toBe(50);
    expect(g.allows(key('target'), 'x')).toBe(false);
    // New names share the overflow bucket, spent by the flood: they are slowed down too.
    expect(g.allows(key('brand-new'), 'x')).toBe(false);
    for (let i = 0; i < 5000; i++) g.succeeded(key(`ok${i}`), 'phone');
    expect(g.size.trusted).toBe(50);
  });

  it('forgets a bucket that has refilled when room is needed', () => {
    let now = 0;
    const g = new GuessLimiter({ burst: 2, ratePerMinute: 60, maxUsers: 2, now: () => now });
    g.failed(key('a'));
    g.failed(key('b'));
    now = 60_000;
    g.failed(key('c'));
    expect(g.size.buckets).toBe(2);
    expect(g.allows(key('c'), 'x')).toBe(true);
  });
});

describe('NonceAuthority', () => {
  it('a burned nonce is good for nothing, whatever nc', () => {
    const n = new NonceAuthority(60_000);
    const nonce = n.issue(0);
    expect(n.use(nonce, '00000001')).toBe('fresh');
    n.burn(nonce, 0);
    expect(n.use(nonce, '00000002')).toBe('burned');
    expect(n.use(nonce, undefined)).toBe('burned');
    expect(n.consume(nonce, '00000009', 0)).toBe('replay');
  });

  it('remembers at most maxTracked nonces; a forgotten one turns stale instead of reusable', () => {
    const n = new NonceAuthority(3_600_000, 100);
    const first = n.issue(1);
    n.burn(first, 1);
    for (let i = 0; i < 1000; i++) n.consume(n.issue(2 + i), '00000001', 2 + i);
    expect(n.tracked).toBe(100);
    expect(n.check(first, 2000)).toBe('stale');
    expect(n.check(n.issue(2000), 2000)).toBe('ok');
  });
});

describe('RefusalLog', () => {
  it('writes one line per source per window and bounds the sources it remembers', () => {
    let now = 0;
    const lines: string[] = [];
    const log = new RefusalLog(createLogger('info', (l) => lines.push(l)), { windowMs: 1000, maxSources: 10, now: () => now });
    for (let i = 0; i < 100; i++) log.refused('bad credentials', { source: 'a', username: 'u'.repeat(500) });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).username).toHaveLength(64);
    for (let i = 0; i < 1000; i++) log.refused('bad credentials', { source: `s${i}` });
    expect(lines).toHaveLength(10); // 'a' and 9 others; the rest only counted
    now = 1000;
    log.flush();
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'sip register refusals not logged', count: 99 + 991 });
  });
});
