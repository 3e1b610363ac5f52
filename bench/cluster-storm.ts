/**
 * The boot storm through the cluster of README "Scale out": two nodes on one PostgreSQL behind nginx as load
 * balancer, beside one of those nodes alone, that node alone behind the same kind of balancer, and nginx serving the
 * same files, in the same run. Random phones fetch
 * their per-device file (wrk, 50 connections, no User-Agent, as bench/boot-storm.ts). The devices are made by the
 * boot storm's prepareDataDir and copied in with `cli migrate-to-postgres` (the upgrade path).
 * Not pinned: two nodes, the balancer and wrk share the 2 cores, so "two nodes" measures the extra hop on one box,
 * not capacity added by a second machine; each row also gives the CPU time its nodes used per 1,000 configs (from
 * /proc): where two nodes cost what one does, a second node on cores of its own adds its full share. Then the same
 * PATCHes through one node and through two, both behind nginx: write throughput, which a second node can raise where
 * lowdb's one process cannot.
 *   npm run bench -- cluster            (sizes: --cluster-sizes=10000,100000; default 10000)
 *   CLUSTER_WRITES_REVERSED=1           (the writes through two nodes measured first: an order effect shows)
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareDataDir, runLoad } from './boot-storm.js';
import { benchLogin, cpuMsOf, wakeupsOf, eachConcurrently, ROOT, startServerProcess, summarize, table } from './lib.js';
import { createDatabase, startPostgres } from '../test/helpers/postgres.js';
import { startNginx } from '../test/helpers/nginx.js';

const PER_ACCOUNT = 5_000;
const WRITES = 3_000;
const WRITE_CONCURRENCY = 32;

/** The first tenant's admin logged in (benchLogin), with the ids of the tenant's devices. */
async function login(base: string): Promise<{ token: string; accountId: string; deviceIds: string[] }> {
  const { token, accountId } = await benchLogin(base, 't0.bench.example.com');
  const list = await fetch(`${base}/v2/accounts/${accountId}/devices?paginate=false`, { headers: { 'X-Auth-Token': token } });
  const deviceIds = ((await list.json()) as { data: Array<{ id: string }> }).data.map((d) => d.id);
  return { token, accountId, deviceIds };
}

/** `total` PATCHes, `concurrency` in flight: throughput and each request's latency (a non-200 counts as failed). */
async function patchLoad(base: string, session: { token: string; accountId: string; deviceIds: string[] }, total: number, concurrency: number) {
  const headers = { 'X-Auth-Token': session.token, 'Content-Type': 'application/json' };
  const latencies: number[] = [];
  let left = total;
  let failed = 0;
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const id = session.deviceIds[Math.floor(Math.random() * session.deviceIds.length)]!;
        const t = performance.now();
        const res = await fetch(`${base}/v2/accounts/${session.accountId}/devices/${id}`, { method: 'PATCH', headers, body: JSON.stringify({ data: { language: `l${n++}` } }) });
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
        if (res.status !== 200) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const { p50, p99 } = summarize(latencies);
  return { rps: total / seconds, p50, p99, failed };
}

async function untilOutput(output: () => string, pattern: string, ms = 900_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!output().includes(pattern)) {
    if (Date.now() > deadline) throw new Error(`the node did not log "${pattern}" in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runClusterStorm(opts: { sizes?: number[]; seconds?: number; connections?: number; log?: (line: string) => void } = {}): Promise<string> {
  const { sizes = [10_000], seconds = 10, connections = 50 } = opts;
  const say = opts.log ?? (() => undefined);
  const postgres = await startPostgres({ durable: true });
  const rows: Array<Array<string | number>> = [];
  const writeRows: Array<Array<string | number>> = [];
  try {
    for (const size of sizes) {
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'cluster-storm-'));
      const stops: Array<() => Promise<void>> = [];
      try {
        const seed = path.join(tmp, 'seed');
        const paths = await prepareDataDir(seed, size, PER_ACCOUNT);
        const databaseUrl = await createDatabase(postgres.url, `storm_${size}`);
        const migrated = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'migrate-to-postgres'], {
          cwd: ROOT,
          env: { ...process.env, DATA_DIR: seed, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
          encoding: 'utf8',
        });
        if (migrated.status !== 0) throw new Error(`migrate-to-postgres failed: ${migrated.stderr}`);
        say(`[cluster ${size}] copied into PostgreSQL: ${migrated.stdout.trim()}`);
        const env = {
          DATABASE_URL: databaseUrl,
          SECRETS_KEY_FILE: path.join(seed, 'system', 'secrets.key'),
          PROVISION_BASE_URL: 'http://prov.bench.invalid/provision',
          SIP_PUBLIC_ADDRESS: '192.0.2.10',
          LOG_LEVEL: 'info',
        };
        const nodes = [];
        for (const id of ['a', 'b']) {
          const node = await startServerProcess({ ...env, DATA_DIR: path.join(tmp, `node-${id}`), NODE_ID: `node-${id}` });
          stops.push(node.stop);
          nodes.push(node);
        }
        const balancer = await startNginx({ upstreams: nodes.map((n) => `127.0.0.1:${n.port}`) });
        stops.push(balancer.stop);
        // The same balancer in front of one node: "two nodes" against it measures what the second node adds, the
        // proxy hop being paid on both sides.
        const single = await startNginx({ upstreams: [`127.0.0.1:${nodes[0]!.port}`] });
        stops.push(single.stop);

        // Every file fetched once through the balancer (the phones' previous fetch; each node renders its share and
        // the rest ahead in the background) and written for nginx.
        // nginx serves root + URI: the files go under files/provision/, as the phones ask for them.
        const filesDir = path.join(tmp, 'files');
        await mkdir(path.join(filesDir, 'provision'), { recursive: true });
        await eachConcurrently(paths, 32, async (p) => {
          const res = await fetch(`${balancer.url}${p}`, { headers: { 'user-agent': '' } });
          if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
          await writeFile(path.join(filesDir, p), Buffer.from(await res.arrayBuffer()));
        });
        for (const node of nodes) await untilOutput(node.output, 'rendered files up to date');
        const files = await startNginx({ root: filesDir });
        stops.push(files.stop);

        // `pids`: the nodes a target sends to, whose CPU time per request is measured (what a node costs per config
        // whatever the cores: on this box the second node cannot add any, on a second machine it adds its own).
        const [a, b] = nodes.map((n) => n.child.pid!);
        const targets = [
          { server: 'one node (no balancer)', port: nodes[0]!.port, pids: [a!] },
          { server: 'one node behind nginx', port: single.port, pids: [a!] },
          { server: 'two nodes behind nginx', port: balancer.port, pids: [a!, b!] },
          { server: 'nginx (the same files)', port: files.port, pids: [] },
        ];
        for (const t of targets) await runLoad('wrk', t.port, paths, 2, connections, tmp);
        const measured = [];
        for (const t of targets) {
          const cpuBefore = cpuMsOf(t.pids);
          const wakeupsBefore = wakeupsOf(t.pids);
          const load = await runLoad('wrk', t.port, paths, seconds, connections, tmp);
          measured.push({ ...t, ...load, nodeCpuMs: cpuMsOf(t.pids) - cpuBefore, nodeWakeups: wakeupsOf(t.pids) - wakeupsBefore });
        }
        const bad = measured.filter((m) => m.errors > 0).map((m) => m.server);
        if (bad.length) throw new Error(`errors while measuring: ${bad.join(', ')}`);
        const nginxRps = measured.find((m) => m.port === files.port)!.rps;
        for (const m of measured) {
          const perThousand = (n: number, digits: number) => (m.pids.length ? ((n / (m.rps * seconds)) * 1000).toFixed(digits) : '');
          rows.push([size, m.server, Math.round(m.rps), m.p50ms.toFixed(2), m.p99ms.toFixed(2), m.errors, (m.rps / nginxRps).toFixed(2), perThousand(m.nodeCpuMs, 1), perThousand(m.nodeWakeups, 0)]);
        }

        // Writes: the same PATCHes through one node and through two, both behind the balancer. With PostgreSQL a
        // second node adds the one thing lowdb cannot: another process validating and rendering.
        // Each measured after a warm-up through both: measured cold, whichever came second ran 20% faster.
        const session = await login(balancer.url);
        const writeTargets = [{ server: 'one node behind nginx', url: single.url }, { server: 'two nodes behind nginx', url: balancer.url }];
        if (process.env.CLUSTER_WRITES_REVERSED) writeTargets.reverse();
        for (const t of writeTargets) await patchLoad(t.url, session, WRITES, WRITE_CONCURRENCY);
        for (const t of writeTargets) {
          const w = await patchLoad(t.url, session, WRITES, WRITE_CONCURRENCY);
          writeRows.push([size, t.server, WRITES, WRITE_CONCURRENCY, Math.round(w.rps), w.p50.toFixed(1), w.p99.toFixed(1), w.failed]);
        }
      } finally {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
        await rm(tmp, { recursive: true, force: true });
      }
    }
  } finally {
    await postgres.stop();
  }
  return [
    `Cluster boot storm: random phones fetching their per-device file, ${connections} connections, ${seconds} s per run, wrk, unpinned on ${os.cpus().length} CPUs; PostgreSQL with its durable defaults`,
    '',
    table(['devices', 'server', 'configs/s', 'p50 ms', 'p99 ms', 'errors', 'vs nginx', 'node CPU ms per 1k configs', 'node loop wake-ups per 1k configs'], rows),
    '',
    `Writes through the cluster: PATCH of a random device's language (a config change: re-rendered ahead, check-sync queued), ${WRITE_CONCURRENCY} in flight, one account of ${PER_ACCOUNT} devices`,
    '',
    table(['devices', 'through', 'PATCHes', 'in flight', 'req/s', 'p50 ms', 'p99 ms', 'failed'], writeRows),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  console.log(await runClusterStorm({ sizes: sizes.length ? sizes : undefined, log: (l) => process.stderr.write(`${l}\n`) }));
}
