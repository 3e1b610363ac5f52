/**
 * `npm run drill [-- <name words>]`: bounded versions of the attacks of the hardening drills, each against its
 * own real server process (src/main.ts on a fresh DATA_DIR, embedded SIP on loopback), and one table: tried,
 * refused, leaked, lost, the longest event-loop stall the server saw during the attack, and its peak RSS.
 * Arguments pick drills whose name contains them (case-insensitive). Nothing is asserted: the tests do that.
 */
import os from 'node:os';
import { table } from '../lib.js';
import type { Drill } from './drill.js';
import { httpAuthGuess, httpDigestParser, macProbeSpread, numberFilter, queryVariants } from './http-attacks.js';
import { sipAuthParser, sipEnumeration, sipGuessManyAddresses, sipGuessOneAddress, sipResponseCache } from './sip-attacks.js';
import { diskFull, killDuringWrites } from './storage-attacks.js';
import { DrillTarget } from './target.js';

const drills: Drill<any>[] = [
  sipAuthParser,
  httpDigestParser,
  numberFilter,
  sipGuessOneAddress,
  sipGuessManyAddresses,
  sipEnumeration,
  macProbeSpread,
  httpAuthGuess,
  queryVariants,
  sipResponseCache,
  killDuringWrites,
  diskFull,
];

const words = process.argv.slice(2).map((w) => w.toLowerCase());
const chosen = drills.filter((d) => words.length === 0 || words.some((w) => d.name.toLowerCase().includes(w)));
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

console.log(`# drill on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}\n`);
const rows: Array<Array<string | number>> = [];
for (const drill of chosen) {
  process.stderr.write(`drill: ${drill.name}\n`);
  const disk = drill.disk ? await drill.disk() : undefined;
  if (disk && 'skipped' in disk) {
    rows.push([drill.name, '-', '-', '-', '-', '-', '-', `skipped: ${disk.skipped}`]);
    continue;
  }
  const target = await DrillTarget.start(drill.env, disk?.dataDir);
  try {
    const seeded = await drill.setup(target);
    await target.resetHealth();
    const outcome = await drill.attack(target, seeded, disk);
    const health = outcome.health ?? (await target.health());
    rows.push([drill.name, outcome.tried, outcome.refused, outcome.leaked, outcome.lost ?? '-', health.event_loop_max_ms.toFixed(0), mb(health.max_rss_bytes), outcome.note]);
  } catch (err) {
    rows.push([drill.name, '-', '-', '-', '-', '-', '-', `drill failed: ${(err as Error).message.slice(0, 200)}`]);
  } finally {
    await target.stop(!disk);
    await disk?.release();
  }
}
console.log(table(['drill', 'tried', 'refused', 'leaked', 'lost', 'longest stall ms', 'peak RSS MB', 'note'], rows));
process.exit(0);
