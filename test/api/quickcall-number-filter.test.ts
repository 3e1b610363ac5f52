import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KazooError } from '../../src/http/errors.js';
import { toKazooError } from '../../src/http/error-mapper.js';
import { createSipPart } from '../../src/sip/wiring.js';
import { MAX_NUMBER_LENGTH, parseQuickCall } from '../../src/sip/api/quickcall-request.js';
import { loopDelayUnderLoadMs } from '../helpers/event-loop.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** H2 (drills.md): `(\d+)+$` against 30 digits and a `!` held a backtracking engine for 56.6 s. */
const DRILL_NUMBER = `${'1'.repeat(30)}!`;
const DRILL_FILTER = '(\\d+)+$';
/** Far below the 56 s of the drill and far above what a linear-time match of 64 characters costs. */
const MAX_DELAY_MS = 200;

function errorsOf(fn: () => unknown): Record<string, Record<string, Record<string, unknown>>> {
  try {
    fn();
  } catch (thrown) {
    // parseQuickCall throws a domain error; the HTTP edge's one mapper makes the answer.
    const err = toKazooError(thrown);
    expect(err).toBeInstanceOf(KazooError);
    expect((err as KazooError).status).toBe(400);
    return (err as KazooError).data as Record<string, Record<string, Record<string, unknown>>>;
  }
  throw new Error('expected a 400 validation error');
}

describe('parseQuickCall: number_filter (Kazoo semantics, linear-time regex)', () => {
  it('default and `true` strip " ,.-()"; `false` keeps the number as is', () => {
    expect(parseQuickCall('(555) 123-4567', {}, undefined).number).toBe('5551234567');
    expect(parseQuickCall('555.123,4567', { number_filter: 'true' }, undefined).number).toBe('5551234567');
    expect(parseQuickCall('555.123', { number_filter: true }, undefined).number).toBe('555123');
    expect(parseQuickCall('+1555.123', { number_filter: 'false' }, undefined).number).toBe('+1555.123');
    expect(parseQuickCall('+1555', {}, { number_filter: false }).number).toBe('+1555');
  });

  it('a regex picks its first capture group, or the whole match without one', () => {
    expect(parseQuickCall('+15551234567', { number_filter: '^\\+?1?(\\d{10})$' }, undefined).number).toBe('5551234567');
    expect(parseQuickCall('ext123', { number_filter: '\\d+' }, undefined).number).toBe('123');
    expect(parseQuickCall('x4001', { number_filter: '(?<n>\\d+)' }, undefined).number).toBe('4001');
    // Kazoo runs PCRE, whose POSIX classes RE2 knows too.
    expect(parseQuickCall('x4001', { number_filter: '([[:digit:]]+)' }, undefined).number).toBe('4001');
    expect(errorsOf(() => parseQuickCall('abc', { number_filter: '\\d+' }, undefined)).number_filter?.no_match).toBeDefined();
  });

  it('the drill payload is answered at once: no match, event-loop delay bounded', async () => {
    const { result: errors, maxMs } = await loopDelayUnderLoadMs(() => errorsOf(() => parseQuickCall(DRILL_NUMBER, { number_filter: DRILL_FILTER }, undefined)), MAX_DELAY_MS);
    expect(errors.number_filter?.no_match).toBeDefined();
    expect(maxMs).toBeLessThan(MAX_DELAY_MS);
    // A 64-character number (the most allowed) under the same nested quantifier is just as quick.
    const longest = `${'1'.repeat(MAX_NUMBER_LENGTH - 1)}!`;
    const worst = await loopDelayUnderLoadMs(() => errorsOf(() => parseQuickCall(longest, { number_filter: '(1+)+$' }, undefined)), MAX_DELAY_MS);
    expect(worst.maxMs).toBeLessThan(MAX_DELAY_MS);
  });

  it(`a number over ${MAX_NUMBER_LENGTH} characters is refused before the filter is even compiled`, () => {
    const errors = errorsOf(() => parseQuickCall('1'.repeat(MAX_NUMBER_LENGTH + 1), { number_filter: '(' }, undefined));
    // Only the length error: had the filter been compiled, "(" would have added number_filter.invalid.
    expect(Object.keys(errors)).toEqual(['number']);
    expect(errors.number?.maxLength).toMatchObject({ target: MAX_NUMBER_LENGTH });
    expect(parseQuickCall('1'.repeat(MAX_NUMBER_LENGTH), {}, undefined).number).toHaveLength(MAX_NUMBER_LENGTH);
  });

  it('backreferences and lookarounds (not linear-time) get a clear 400 on number_filter', () => {
    for (const pattern of ['(\\d)\\1', '(?=\\d)\\d+', '(?<!0)\\d+']) {
      const invalid = errorsOf(() => parseQuickCall('1122', { number_filter: pattern }, undefined)).number_filter?.invalid;
      expect(invalid, pattern).toBeDefined();
      expect(String(invalid!.message)).toMatch(/backreferences or lookarounds/);
      expect(invalid!.value).toBe(pattern);
    }
    expect(errorsOf(() => parseQuickCall('1', { number_filter: '(' }, undefined)).number_filter?.invalid).toBeDefined();
    expect(errorsOf(() => parseQuickCall('1', { number_filter: 'a{99999}' }, undefined)).number_filter?.invalid).toBeDefined();
    expect(errorsOf(() => parseQuickCall('1', { number_filter: '1'.repeat(201) }, undefined)).number_filter?.invalid).toBeDefined();
  });
});

describe('GET /devices/{D}/quickcall/{NUMBER} with hostile input (SIP off: an offline device answers 409)', () => {
  let t: TestServer;
  let A: string;
  let D: string;
  const auth = () => ({ 'X-Auth-Token': t.master.token });
  const quickcall = (number: string, query = '') => t.http().get(`/v2/accounts/${A}/devices/${D}/quickcall/${number}${query}`).set(auth());

  beforeAll(async () => {
    t = await startTestServer({ parts: { sip: (ctx) => createSipPart(ctx) } });
    A = t.master.accountId;
    const made = await t.http().put(`/v2/accounts/${A}/devices`).set(auth()).send({ data: { name: 'desk', sip: { username: 'desk1', password: 'desk-secret-1' } } });
    expect(made.status).toBe(201);
    D = made.body.data.id;
  });
  afterAll(() => t.close());

  it('the drill request answers 400 no_match with the event loop free', async () => {
    const { result: res, maxMs } = await loopDelayUnderLoadMs(() => quickcall(DRILL_NUMBER, '?number_filter=(%5Cd%2B)%2B%24'), MAX_DELAY_MS);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: '400', message: 'validation error', status: 'error' });
    expect(res.body.data.number_filter.no_match).toBeDefined();
    expect(maxMs).toBeLessThan(MAX_DELAY_MS);
  });

  it('a filter that matches goes on to the registration check (409)', async () => {
    const res = await quickcall(DRILL_NUMBER, '?number_filter=%5E(%5Cd%2B)');
    expect(res.status).toBe(409);
    expect(res.body.message).toBe('device_not_registered');
  });

  it('65 decoded characters are refused with 400 before the filter; the length counts after percent-decoding', async () => {
    const tooLong = await quickcall('1'.repeat(MAX_NUMBER_LENGTH + 1), '?number_filter=(');
    expect(tooLong.status).toBe(400);
    // "(" does not compile: only the length error shows the filter was never reached.
    expect(Object.keys(tooLong.body.data)).toEqual(['number']);
    // 64 characters written as 192 bytes of %31 are still 64 characters.
    expect((await quickcall('%31'.repeat(MAX_NUMBER_LENGTH))).status).toBe(409);
  });

  it('a backreference filter gets the clear 400', async () => {
    const res = await quickcall('1122', '?number_filter=(%5Cd)%5C1');
    expect(res.status).toBe(400);
    expect(res.body.data.number_filter.invalid.message).toMatch(/RE2/);
  });

  it('the usual forms still reach the phone check', async () => {
    expect((await quickcall('(555)%20123-4567')).status).toBe(409);
    expect((await quickcall('%2B15551234567', '?number_filter=%5E%5C%2B%3F1%3F(%5Cd%7B10%7D)%24')).status).toBe(409);
    expect((await quickcall('5551234', '?number_filter=false')).status).toBe(409);
  });
});
