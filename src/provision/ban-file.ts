import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { writeFileDurable } from '../store/durable-file.js';
import { canonicalAddress, canonicalNetwork } from '../net/client-network.js';

/**
 * The probe guard's bans on disk (`DATA_DIR/provisioning/bans.json`), so that a restart does not hand a banned
 * prober a clean slate. Small and hand-editable:
 *
 *   {"version":1,"addresses":{"192.0.2.7":"2030-01-01T00:10:00.000Z"},"networks":{"192.0.2.0/24":"…"}}
 *
 * Read back field by field: a file that is not JSON, or an entry whose key is not an address/network or whose
 * time is not a time, is skipped (and logged), never fatal. Expired bans are dropped; none lasts longer than the
 * configured ban time from now, whatever the file says.
 */
export interface BanTable {
  addresses: Map<string, number>;
  networks: Map<string, number>;
}

/** A file larger than this was not written by us; it is ignored rather than read into memory. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

export function banFilePath(dataDir: string): string {
  return path.join(dataDir, 'provisioning', 'bans.json');
}

function untilOf(value: unknown): number | undefined {
  const t = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

function readSection(
  raw: unknown,
  canonical: (key: string) => string | undefined,
  opts: { now: number; maxBanMs: number; maxEntries: number },
  skipped: { count: number },
): Map<string, number> {
  const out = new Map<string, number>();
  if (raw === undefined) return out;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    skipped.count++;
    return out;
  }
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (out.size >= opts.maxEntries) {
      skipped.count++;
      break;
    }
    const canon = canonical(key);
    const until = untilOf(value);
    if (canon === undefined || until === undefined) {
      skipped.count++;
      continue;
    }
    if (until <= opts.now) continue; // served its time
    out.set(canon, Math.max(out.get(canon) ?? 0, Math.min(until, opts.now + opts.maxBanMs)));
  }
  return out;
}

export async function readBanFile(
  file: string,
  log: Logger | undefined,
  opts: { now: number; maxBanMs: number; maxEntries: number },
): Promise<BanTable> {
  const empty: BanTable = { addresses: new Map(), networks: new Map() };
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (stat.size > MAX_FILE_BYTES) {
      log?.warn('provisioning: ban file too large, ignored', { file, bytes: stat.size });
      return empty;
    }
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log?.warn('provisioning: ban file unreadable, ignored', { file, err });
    return empty;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    log?.warn('provisioning: ban file is not JSON, ignored', { file });
    return empty;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    log?.warn('provisioning: ban file is not an object, ignored', { file });
    return empty;
  }
  const skipped = { count: 0 };
  const { addresses, networks } = doc as { addresses?: unknown; networks?: unknown };
  const table = {
    addresses: readSection(addresses, canonicalAddress, opts, skipped),
    networks: readSection(networks, canonicalNetwork, opts, skipped),
  };
  if (skipped.count > 0) log?.warn('provisioning: ban file entries skipped', { file, skipped: skipped.count });
  return table;
}

export async function writeBanFile(file: string, table: BanTable): Promise<void> {
  const section = (m: Map<string, number>) => Object.fromEntries([...m].map(([k, until]) => [k, new Date(until).toISOString()]));
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileDurable(file, `${JSON.stringify({ version: 1, addresses: section(table.addresses), networks: section(table.networks) })}\n`);
}
