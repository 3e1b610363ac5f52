import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanseMac } from '../../src/devices/mac-address.js';
import { cleanMac } from '../../vendors/types.js';

/** One rule, one module: the places the design review found written twice or three times. */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}
const filesMatching = (re: RegExp) => sources().filter((f) => re.test(readFileSync(f, 'utf8'))).map((f) => path.relative(SRC, f));

describe('one of each', () => {
  it('one digest module: nonce bookkeeping and the Authorization tokenizer live only in src/digest/', () => {
    // A burned-nonce marker is the sign of a nonce-count table; the tokenizer is the one exported parser.
    expect(filesMatching(/const BURNED\b/)).toEqual([path.join('digest', 'digest.ts')]);
    expect(filesMatching(/export function parseAuth/)).toEqual([path.join('digest', 'auth-header.ts')]);
  });

  it('one MAC rule: a MAC read from a User-Agent is cleaned as one saved through the API', () => {
    for (const raw of ['00:15:65:4A:A9:37', '00-15-65-4a-a9-37', '0015.654a.a937', ' 0015654aa937 ', '00 15 65 4a a9 37', '0015654aa93', 'zz15654aa937', '']) {
      expect(cleanMac(raw), JSON.stringify(raw)).toBe(raw ? cleanseMac(raw) : undefined);
    }
  });

  it("one reader of the route's account", () => {
    expect(filesMatching(/locals as Required<AuthLocals>\)\.account/)).toEqual([path.join('http', 'route-lookups.ts')]);
  });
});
