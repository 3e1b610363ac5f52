/**
 * `npm run bench`: every measured figure of the product in one run.
 *   1. API/storage: create and PATCH latency and throughput with 1k, 10k, 100k devices in one account.
 *   2. Boot storm: phones fetching configs by MAC, ours vs nginx serving the same rendered files.
 *   3. SIP: REGISTER/s with digest (sipp) and the time to check-sync 1,000 registered phones.
 *   4. Render cost per vendor family (µs per file, nothing cached), beside a bare Handlebars floor.
 *   5. PATCH storm: 1,000 concurrent PATCHes of one device, all kept in memory and after a restart.
 *   6. Listing load (with boot, or alone as `listing`): phone p99 while paginate=false / non-matching filters run
 *      (sizes: --listing-sizes=10000,100000).
 *   7. Cluster (`cluster`): the boot storm through two nodes on PostgreSQL behind nginx, beside one node (alone and
 *      behind the same balancer) and nginx
 *      (sizes: --cluster-sizes=10000).
 * Pick parts with `npm run bench -- api boot listing sip render storm` (default: all); `--sizes 10000` (boot storm device
 * counts, default 10000,100000) and `--duration 10` (seconds per boot storm run). Figures are for this machine at this moment;
 * the bench never asserts on them.
 */
import os from 'node:os';
import { table } from './lib.js';

// Options with a value (`--sizes 10000`, `--duration 5`, `--rounds 3`: the boot storm's device counts, seconds per
// run, and turns of ours-lean beside nginx).
const valueOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const valued = new Set(['--sizes', '--duration', '--rounds']);
const wanted = new Set(process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !valued.has(all[i - 1] ?? '')));
const run = (part: string) => wanted.size === 0 || wanted.has(part);

console.log(`# bench on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

if (run('api')) {
  const { runApiBench } = await import('./api-bench.js');
  console.log('\n## API and storage (HTTP on loopback, real server process)\n');
  console.log(await runApiBench());
}

if (run('api-pg')) {
  const { runPostgresApiBench } = await import('./postgres-bench.js');
  console.log('\n## API and storage on PostgreSQL (DATABASE_URL; same figures as above)\n');
  console.log(await runPostgresApiBench());
}

if (run('boot')) {
  const { runBootStorm } = await import('./boot-storm.js');
  console.log('\n## Boot storm: config fetches by MAC, ours vs nginx\n');
  // Pinned (servers on CPU 0, wrk on CPU 1): unpinned, the scheduler sometimes puts wrk on the server's core
  // and halves a run at random. Progress lines go to stderr; the report once to stdout.
  console.log(
    await runBootStorm({
      pin: true,
      sizes: valueOf('sizes')?.split(',').map(Number),
      durationSeconds: valueOf('duration') ? Number(valueOf('duration')) : undefined,
      rounds: valueOf('rounds') ? Number(valueOf('rounds')) : undefined,
      log: (line) => process.stderr.write(`${line}\n`),
    }),
  );
}

if (run('boot') || run('listing')) {
  const { runListingLoad } = await import('./listing-load.js');
  console.log('\n## Phones during big API reads: phone p99 while paginate=false and non-matching filters run\n');
  const sizes = process.argv.find((a) => a.startsWith('--listing-sizes='))?.slice('--listing-sizes='.length).split(',').map(Number);
  console.log(await runListingLoad({ sizes, log: (line) => process.stderr.write(`${line}\n`) }));
}

if (run('cluster')) {
  const { runClusterStorm } = await import('./cluster-storm.js');
  console.log('\n## Boot storm through two nodes on PostgreSQL behind nginx\n');
  const sizes = process.argv.find((a) => a.startsWith('--cluster-sizes='))?.slice('--cluster-sizes='.length).split(',').map(Number);
  console.log(await runClusterStorm({ sizes, log: (line) => process.stderr.write(`${line}\n`) }));
}

if (run('sip')) {
  const { runSipBench } = await import('./sip-bench.js');
  console.log('\n## SIP (sipp on loopback)\n');
  const r = await runSipBench({ log: (line) => process.stderr.write(`${line}\n`) });
  console.log(
    table(
      ['figure', 'value'],
      [
        ['digest REGISTERs completed at 500/s offered', r.registrations],
        ['REGISTER/s at 500/s offered (401 challenge + authenticated REGISTER)', r.registersPerSecond],
        ['REGISTER failures at 500/s offered', r.registerFailures],
        ['REGISTER ceiling: highest offered/s with every registration done and >=95% of the rate kept', r.registerCeiling],
        ['REGISTER/s achieved at the ceiling', r.registerCeilingAchieved],
        [`check-sync to ${r.checkSyncPhones} phones, paced at ${r.resyncRate}/s (s)`, r.checkSyncPacedSeconds],
        [`check-sync to ${r.checkSyncPhones} phones, unpaced (s)`, r.checkSyncUnpacedSeconds],
        ['paced NOTIFYs answered 200', r.pacedNotifyOk],
        ['unpaced NOTIFYs answered 200', r.notifyOk],
      ],
    ),
  );
}
if (run('render')) {
  const { runRenderCost } = await import('./render-cost.js');
  console.log('\n## Render cost per family (cold)\n');
  console.log((await runRenderCost()).report);
}
if (run('storm')) {
  const { runPatchStorm } = await import('./patch-storm.js');
  console.log('\n## PATCH storm: concurrent PATCHes of one device (fsync on)\n');
  const r = await runPatchStorm();
  console.log(
    table(
      ['figure', 'value'],
      [
        ['concurrent PATCHes, each of its own key', r.writes],
        ['seconds until all were acknowledged', r.seconds.toFixed(2)],
        ['PATCH/s', r.writesPerSecond],
        ['keys in the device (memory / after restart)', `${r.keysInMemory} / ${r.keysAfterRestart}`],
      ],
    ),
  );
}
process.exit(0);
