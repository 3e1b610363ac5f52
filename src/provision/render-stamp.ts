import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A stamp of the code that turns documents and templates into files: the vendor profiles, the provisioning
 * modules and the template engine's version. It is part of every rendered file's fingerprint, so a file kept on
 * disk by an older build is never served by a newer one (the first fetch renders it anew instead). When the
 * sources cannot be read, a random stamp: nothing kept is then trusted, which is slower but never wrong.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['vendors', 'src/provision'];
const PACKAGES = ['handlebars', 'xml2js'];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (/\.(ts|js|mts|mjs)$/.test(entry.name)) out.push(full);
  }
  return out;
}

let memo: string | undefined;

export function renderCodeStamp(): string {
  if (memo !== undefined) return memo;
  try {
    const h = createHash('sha1');
    for (const dir of SOURCES) {
      for (const file of filesUnder(path.join(ROOT, dir)).sort()) h.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
    for (const pkg of PACKAGES) {
      const version = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string }).version;
      h.update(`${pkg}@${version ?? '?'}\0`);
    }
    memo = h.digest('base64url').slice(0, 16);
  } catch {
    memo = randomBytes(12).toString('base64url');
  }
  return memo;
}
