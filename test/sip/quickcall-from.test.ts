import { describe, expect, it } from 'vitest';
import { MAX_CALLER_NUMBER, MAX_DISPLAY_NAME, quickCallFrom } from '../../src/sip/quickcall-from.js';

/**
 * The From both SIP backends put on a quick call's INVITE (src/sip/quickcall.ts, src/sip/drachtio/service.ts),
 * from caller-chosen cid-name / cid-number. Pure: no socket.
 */
const REALM = 'qc.test';

/** Reads a From as a SIP parser would: one line, `"<name>" <sip:<user>@<host>>`, nothing after it. */
function readFrom(from: string): { name: string; user: string; host: string } {
  expect(from).not.toMatch(/[\r\n]/);
  const m = /^"((?:[^"\\]|\\.)*)" <sip:([^@<>"\s]+)@([^<>"\s]+)>$/.exec(from);
  expect(m, from).not.toBeNull();
  return { name: m![1]!, user: m![2]!, host: m![3]! };
}

describe('quickCallFrom: one From for both backends', () => {
  it('keeps a plain caller id as it is', () => {
    expect(quickCallFrom('Zoë at the desk', '+15551234', '100', REALM)).toBe('"Zoë at the desk" <sip:+15551234@qc.test>');
  });

  it('CR/LF in the name or number add no header', () => {
    const from = quickCallFrom('Evil\r\nX-Injected: 1', '555\r\nX-Other: 2', '100', REALM);
    const read = readFrom(from);
    expect(read.name).toBe('EvilX-Injected: 1');
    expect(read.user).toBe('555X-Other2');
    expect(read.host).toBe(REALM);
  });

  it('quotes, backslashes and angle brackets cannot end the name or the URI early', () => {
    const read = readFrom(quickCallFrom('Bob" <sip:boss@evil.example>;x=\\', '1"<>2', '100', REALM));
    expect(read.name).toBe('Bob sip:boss@evil.example;x=');
    expect(read.user).toBe('12');
    expect(read.host).toBe(REALM);
  });

  it('other control characters (NUL, TAB, DEL, C1, line separator) are dropped from the name', () => {
    expect(readFrom(quickCallFrom('a\u0000b\tc\u007fd\u0085e\u2028f', '1', '100', REALM)).name).toBe('abcdef');
  });

  it('an over-long name or number is cut, never a surrogate pair in half', () => {
    const long = readFrom(quickCallFrom('x'.repeat(5_000), '9'.repeat(5_000), '100', REALM));
    expect(long.name).toBe('x'.repeat(MAX_DISPLAY_NAME));
    expect(long.user).toBe('9'.repeat(MAX_CALLER_NUMBER));
    const emoji = readFrom(quickCallFrom(`${'a'.repeat(MAX_DISPLAY_NAME - 1)}😀😀`, '1', '100', REALM)).name;
    expect(Array.from(emoji)).toHaveLength(MAX_DISPLAY_NAME);
    expect(emoji.endsWith('😀')).toBe(true);
    expect(emoji).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('a caller number with nothing dialable falls back to the dialled number; # is percent-encoded', () => {
    expect(readFrom(quickCallFrom('QC', '<>" ', '5551234', REALM)).user).toBe('5551234');
    expect(readFrom(quickCallFrom('QC', '', '*97', REALM)).user).toBe('*97');
    expect(readFrom(quickCallFrom('QC', '#123', '100', REALM)).user).toBe('%23123');
  });
});
