import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AUTHORIZATION_LENGTH } from '../../src/digest/auth-header.js';
import { EmbeddedSipService } from '../../src/sip/embedded.js';
import { parseAuthHeader } from '../../src/sip/message.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from './helpers/config.js';
import { UdpPhone } from './helpers/udp-phone.js';

/**
 * The Authorization parser (H1 of the hardening drills: one 64 KB datagram held the process for 4 s).
 * Correctness on tricky values, then bounds on event-loop delay (never on elapsed time): for the parser
 * alone on 64 KB of junk, and for the real registrar on loopback receiving such datagrams.
 * Phone on 127.0.0.50.
 */
const REALM = 'authhdr.test';
const ACC = 'accauthheader000000000000000001';

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

/**
 * Biggest event-loop delay seen while the steps run. The monitor only measures from its first sample on,
 * and records a block when its timer next fires: hence a timer tick after enabling and after each step.
 */
async function maxLoopDelayMs(steps: Array<() => unknown | Promise<unknown>>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await tick();
  for (const step of steps) {
    await step();
    await tick();
  }
  histogram.disable();
  return histogram.max / 1e6;
}

const JUNK = 64_000;
const junkValues = [
  `Digest ${'a'.repeat(JUNK)}`,
  `Digest ${'a='.repeat(JUNK / 2)}`,
  `Digest a="${'\\"'.repeat(JUNK / 2)}`,
  `Digest ${'a '.repeat(JUNK / 2)}`,
  `Digest ${'a=b '.repeat(JUNK / 4)}`,
  `Digest ${','.repeat(JUNK)}`,
  `Digest ${'"'.repeat(JUNK)}`,
  `Digest ${'a-'.repeat(JUNK / 2)}=x`,
];

describe('parseAuthHeader', () => {
  const params = (value: string) => {
    const parsed = parseAuthHeader(value);
    return parsed ? { ...parsed.params } : undefined;
  };

  it('reads a phone’s digest answer', () => {
    const parsed = parseAuthHeader(
      'Digest username="1001", realm="x.test", nonce="n.o.nce", uri="sip:x.test", response="0a1b", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0"',
    );
    expect(parsed?.scheme).toBe('Digest');
    expect({ ...parsed!.params }).toEqual({ username: '1001', realm: 'x.test', nonce: 'n.o.nce', uri: 'sip:x.test', response: '0a1b', algorithm: 'MD5', qop: 'auth', nc: '00000001', cnonce: 'c0' });
  });

  it.each([
    ['a comma inside quotes', 'Digest uri="sip:a,b@x", nc=1', { uri: 'sip:a,b@x', nc: '1' }],
    ['an escaped quote and backslash', 'Digest cnonce="a\\"b\\\\c", nc=1', { cnonce: 'a"b\\c', nc: '1' }],
    ['spaces around =, upper-case names', 'Digest  UserName = "u" ,NC= 2', { username: 'u', nc: '2' }],
    ['parameters separated by spaces only', 'Digest a=1 b="2"', { a: '1', b: '2' }],
    ['a junk item before a good one', 'Digest junk, ;;, username="u"', { username: 'u' }],
    ['a bare name at the end', 'Digest username="u", aaaa', { username: 'u' }],
    ['empty values', 'Digest a=, b="", c=3', { b: '', c: '3' }],
    ['leading and trailing commas', 'Digest ,,username="u",,', { username: 'u' }],
    ['an unterminated quote swallowing the rest', 'Digest nc=1, username="u, realm=x', { nc: '1' }],
    ['a quote glued to a value', 'Digest a="x"y, b=2', { a: 'x', b: '2' }],
    ['a backslash at the very end', 'Digest a="x\\', {}],
    ['the last of a repeated name', 'Digest a=1, a=2', { a: '2' }],
  ])('handles %s', (_what, value, expected) => {
    expect(params(value)).toEqual(expected);
  });

  it('keeps names like __proto__ as plain data', () => {
    const parsed = parseAuthHeader('Digest __proto__="x", constructor=y, username="u"')!;
    expect(Object.getPrototypeOf(parsed.params)).toBeNull();
    expect(parsed.params.__proto__).toBe('x');
    expect(parsed.params.constructor).toBe('y');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it.each([['Digest'], [''], ['   '], ['"Digest" a=b'], ['Digest,a=b']])('refuses %j (no scheme followed by a space)', (value) => {
    expect(parseAuthHeader(value)).toBeUndefined();
  });

  it('parses 64 KB of junk of every shape without holding the event loop (< 400 ms; the old parser took 10.8 s)', async () => {
    const results: Array<ReturnType<typeof parseAuthHeader>> = [];
    const delay = await maxLoopDelayMs(junkValues.map((value) => () => results.push(parseAuthHeader(value))));
    expect(results).toHaveLength(junkValues.length);
    expect(results.every((r) => r?.scheme === 'Digest')).toBe(true);
    expect(delay).toBeLessThan(400);
  });
});

describe('registrar: oversized Authorization on the wire', () => {
  const directory = new MemoryDirectory();
  let sip: EmbeddedSipService;
  let phone: UdpPhone;
  let calls = 0;

  beforeAll(async () => {
    directory.addAccount({ id: ACC, realm: REALM });
    directory.addDevice(ACC, { id: 'dev5001', sip: { username: '5001', password: 'pw5001' } });
    sip = new EmbeddedSipService({ config: sipTestConfig(), log: quietLog, directory });
    await sip.start();
    phone = await UdpPhone.open('127.0.0.50', { address: '127.0.0.1', port: sip.address()!.port });
  });

  afterAll(async () => {
    phone.close();
    await sip.stop();
  });

  const send = (authorization: string) =>
    phone.send(phone.registerMessage({ user: '5001', realm: REALM, callId: `hdr-${++calls}`, cseq: 1, authorization }));

  it(`refuses an Authorization over ${MAX_AUTHORIZATION_LENGTH} characters with 400 at once, keeping the loop free`, async () => {
    const replies: number[] = [];
    const reasons: string[] = [];
    const delay = await maxLoopDelayMs(
      junkValues.map((value) => async () => {
        const reply = await send(value);
        replies.push(reply.status);
        reasons.push(/^SIP\/2\.0 \d{3} (.*)\r\n/.exec(reply.raw)![1]!);
      }),
    );
    expect(replies).toEqual(junkValues.map(() => 400));
    expect(new Set(reasons)).toEqual(new Set(['Authorization Too Long']));
    expect(delay).toBeLessThan(400);
  });

  it('still reads an Authorization just under the bound (challenged, not refused as too long)', async () => {
    const value = `Digest username="5001", realm="${REALM}", nonce="x.y.z", uri="sip:${REALM}", response="00", pad="${'p'.repeat(MAX_AUTHORIZATION_LENGTH - 120)}"`;
    expect(value.length).toBeLessThanOrEqual(MAX_AUTHORIZATION_LENGTH);
    const reply = await send(value);
    expect(reply.status).toBe(401); // a nonce we never issued: re-challenged
  });
});
