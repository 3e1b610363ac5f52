import type { DrillTarget, Health, Seeded } from './target.js';

/**
 * One attack of `npm run drill`. It runs against its own fresh server process: `setup` prepares the victims
 * (its stalls are forgotten), `attack` is measured. Counts, as printed:
 * - tried: attack requests or datagrams sent;
 * - refused: of those, answered with a refusal (4xx/5xx) or dropped;
 * - leaked: what the attack must never get: a password or a config file with one, a successful guess, a
 *   user told apart from an unknown one, a refused write that came back;
 * - lost: acknowledged writes missing afterwards, or the real phone locked out.
 */
export interface DrillOutcome {
  tried: number;
  refused: number;
  leaked: number;
  lost?: number;
  note: string;
  /** The server's figures for the attack, when the attack restarts it (a new process starts with none). */
  health?: Health;
}

/** A DATA_DIR on a disk of the drill's own (a small tmpfs); `free()` gives its space back. */
export interface DrillDisk {
  dataDir: string;
  free(): Promise<void>;
  release(): Promise<void>;
}

export interface Drill<S = Seeded> {
  name: string;
  /** Server settings this drill needs (on top of the embedded defaults on loopback). */
  env?: Record<string, string>;
  /** A disk of its own for DATA_DIR, or why the drill cannot run here. */
  disk?: () => Promise<DrillDisk | { skipped: string }>;
  setup(target: DrillTarget): Promise<S>;
  attack(target: DrillTarget, seeded: S, disk?: DrillDisk): Promise<DrillOutcome>;
}

export const SIP_PASSWORD = (user: string) => `SipSecret-${user}-Zq9`;

/** Yealink MACs (OUI 80:5e:c0) of the planted phones; the users they carry. */
export const PHONES = [
  { mac: '805ec0000001', user: '1001' },
  { mac: '805ec0000002', user: '1002' },
  { mac: '805ec0a1b2c3', user: '1003' },
  { mac: '805ec0ffee01', user: 'alice' },
];

export async function seedPhones(target: DrillTarget, seed: Seeded): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const p of PHONES) {
    ids.set(p.user, await target.createDevice(seed, { name: `phone ${p.user}`, mac_address: p.mac, sip: { username: p.user, password: SIP_PASSWORD(p.user) } }));
  }
  return ids;
}

/** Runs `fn` for every item with at most `width` in flight. */
export async function inFlight<T>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export const count = (values: Iterable<number | undefined>, pred: (v: number | undefined) => boolean) => {
  let n = 0;
  for (const v of values) if (pred(v)) n++;
  return n;
};

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** Memory before and after an attack: RSS (what the OS gave) and the live heap (what the server holds on to). */
export const memoryNote = (before: Health, after: Health) =>
  `RSS ${mb(before.rss_bytes)} → ${mb(after.rss_bytes)} MB, heap ${mb(before.heap_used_bytes)} → ${mb(after.heap_used_bytes)} MB`;
