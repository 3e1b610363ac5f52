/**
 * Boot storm: N phones (10k, 100k) fetch their config files at once. Our server against nginx serving the very
 * same rendered files from disk, same load generator, same machine, same run. Prints configs/s, p50/p99 and the ratio.
 *
 *   npx tsx bench/boot-storm.ts [--sizes 10000,100000] [--duration 10] [--connections 50]
 *
 * Fairness: every server measured is its own process, like `npm start` — ours is src/main.ts on a DATA_DIR prepared
 * here through the store (then released), the node-floor is a bare node:http child. "ours-lean" is the same server
 * with PROVISION_FAST_PATH=1 (phone fetches answered by the lean front door, src/provision/front-door.ts) on its own
 * copy of that DATA_DIR, measured in the same run. Nothing of the bench process
 * (its path list, the store it filled, the file writing for nginx) shares a heap or an event loop with a server.
 * BOOT_STORM_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to our server process only.
 *   add --pin to run every server on CPU 0 and wrk on CPU 1 (needs taskset)
 *   --rounds 3: warm runs of ours-lean and nginx in turns, and walks on each side of the template edit
 *
 * nginx (Debian package) is started on a loopback port with its own conf/pid under a temp dir and stopped by PID.
 * wrk is used when installed (autocannon, being JS on a shared core, saturates earlier), else autocannon.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainEvents } from '../src/domain/events.js';
import type { DeviceDoc } from '../src/domain/types.js';
import { acquireOwnership } from '../src/store/process-lock.js';
import { Store } from '../src/store/store.js';
import { bootstrapAccount } from '../src/accounts/bootstrap.js';
import { benchDevice, eachConcurrently, procStatusField, ROOT, startServerProcess } from './lib.js';

export interface BootStormOptions {
  sizes?: number[];
  durationSeconds?: number;
  connections?: number;
  /** Devices per account (the store shards per account). */
  devicesPerAccount?: number;
  /**
   * Pin every server to CPU 0 and the load generator to CPU 1 (taskset). On a 2-core box the scheduler otherwise
   * sometimes puts wrk and the server on one core, which halves a run at random; pinning makes runs comparable.
   */
  pin?: boolean;
  /**
   * Warm runs of ours-lean and nginx, taken in turns (default 3), and walks over the other vendors on each side of
   * the template edit (default 3 each). The box's speed drifts by more than the gaps measured: one run of each, minutes
   * apart, compared that drift as often as the servers. Turns put each pair seconds apart; the median shows the rest.
   */
  rounds?: number;
  log?: (line: string) => void;
}

export interface WalkRow {
  devices: number;
  walk: 'cold, all phones' | 'other vendors, after a Yealink edit' | 'other vendors, before the edit';
  server: 'ours-lean' | 'nginx';
  files: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** configs/s of each walk when the row stands for several (the row's figures are then their medians). */
  each?: number[];
}

export interface BootStormRow {
  devices: number;
  server: 'ours' | 'ours-lean' | 'nginx' | 'node-floor';
  tool: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** Per turn, when runs were taken in turns with nginx: configs/s and the ratio to the nginx run beside it. */
  turns?: Array<{ rps: number; ratio: number }>;
}

type Measured = { rps: number; p50ms: number; p99ms: number; errors: number };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One figure for several runs of the same thing: medians of rate and latencies, errors summed. */
function medianOf(runs: readonly Measured[]): Measured {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50ms: median(runs.map((r) => r.p50ms)),
    p99ms: median(runs.map((r) => r.p99ms)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  };
}

const which = (bin: string): string | undefined => {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
};

const SERVER_CPU = '0';
const LOAD_CPU = '1';

/** Moves a running process, all its threads, to the server CPU. */
async function pinProcess(pid: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(which('taskset')!, ['-a', '-p', '-c', SERVER_CPU, String(pid)], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`taskset exited ${code}`))));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Device i: vendors round-robin, each with its own OUI, a few keys and codecs like a real desk phone. */
function deviceDoc(accountId: string, i: number, userId: string): DeviceDoc & { file: string } {
  const vendor = i % 3;
  const oui = ['001565', '0004f2', '000b82'][vendor]!;
  const mac = `${oui}${(i + 1).toString(16).padStart(6, '0')}`;
  const file = [`${mac}.cfg`, `${mac}-user.cfg`, `cfg${mac}.xml`][vendor]!;
  return {
    ...benchDevice(accountId, {
      name: `Phone ${i}`,
      mac_address: mac,
      sip: { username: `user${i}`, password: `pw${i}x${(i * 7919) % 100000}`, expire_seconds: 600 },
      caller_id: { internal: { name: `Desk ${i}` } },
      media: { audio: { codecs: ['G722', 'PCMU', 'PCMA'] } },
      provision: {
        combo_keys: { '0': { type: 'line' }, '1': { type: 'presence', value: userId }, '2': { type: 'parking', value: 1 } },
        feature_keys: { '0': { type: 'speed_dial', value: '2000' } },
      },
      timezone: 'America/New_York',
      language: 'en-us',
    }),
    file,
  };
}

export async function runLoad(
  tool: 'wrk' | 'autocannon',
  port: number,
  paths: string[],
  seconds: number,
  connections: number,
  tmp: string,
  pin = false,
): Promise<{ rps: number; p50ms: number; p99ms: number; errors: number }> {
  if (tool === 'wrk') {
    const list = path.join(tmp, 'paths.txt');
    await writeFile(list, paths.join('\n') + '\n');
    const script = path.join(tmp, 'random.lua');
    // Every request picks a random phone's file.
    await writeFile(
      script,
      `local paths = {}
for line in io.lines("${list}") do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
`,
    );
    const out = await new Promise<string>((resolve, reject) => {
      const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`];
      const child = pin ? spawn(which('taskset')!, ['-c', LOAD_CPU, which('wrk')!, ...args]) : spawn(which('wrk')!, args);
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
    });
    if (process.env.BOOT_STORM_DEBUG) process.stderr.write(out);
    const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
    const ms = (re: RegExp) => {
      const m = re.exec(out);
      if (!m) return NaN;
      const v = Number(m[1]);
      return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
    };
    const non2xx = num(/Non-2xx or 3xx responses:\s+(\d+)/) || 0;
    const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const sockErrors = sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    return { rps: num(/Requests\/sec:\s+([\d.]+)/), p50ms: ms(/\s50%\s+([\d.]+)(us|ms|s)/), p99ms: ms(/\s99%\s+([\d.]+)(us|ms|s)/), errors: non2xx + sockErrors };
  }
  const moduleName = 'autocannon'; // untyped package: import by name to keep tsc strict elsewhere
  const { default: autocannon } = (await import(moduleName)) as { default: (o: unknown) => Promise<Record<string, any>> };
  const requests = paths.length > 0 ? [{ setupRequest: (r: Record<string, unknown>) => ({ ...r, path: paths[Math.floor(Math.random() * paths.length)] }) }] : [];
  const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration: seconds, requests });
  return { rps: r.requests.average, p50ms: r.latency.p50, p99ms: r.latency.p99, errors: r.non2xx + r.errors };
}

/**
 * One pass over `paths` in a shuffled order, each URL fetched once (the phones after a power cut: every phone its
 * own file). Timed in Lua (CLOCK_MONOTONIC) from the first request to the last answer; wrk's thread stops sending
 * then, and since wrk itself would wait out its duration, the bench interrupts it (SIGINT: it prints its latency
 * histogram). configs/s = URLs / that time.
 */
export async function runWalk(
  port: number,
  paths: string[],
  connections: number,
  tmp: string,
  pin: boolean,
  name: string,
): Promise<{ rps: number; p50ms: number; p99ms: number; errors: number; seconds: number }> {
  const list = path.join(tmp, `walk-${name}.txt`);
  await writeFile(list, shuffled(paths).join('\n') + '\n');
  const script = path.join(tmp, `walk-${name}.lua`);
  await writeFile(
    script,
    `local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } walk_timespec; int clock_gettime(int clk_id, walk_timespec *tp); ]]
local ts = ffi.new("walk_timespec")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9 end
local paths = {}
for line in io.lines("${list}") do paths[#paths + 1] = line end
local n = #paths
local sent, got, bad, t0 = 0, 0, 0, nil
request = function()
  if not t0 then t0 = now() end
  sent = sent + 1
  return wrk.format("GET", paths[((sent - 1) % n) + 1])
end
response = function(status)
  got = got + 1
  if status ~= 200 then bad = bad + 1 end
  if got == n then
    io.write(string.format("walk-done %.6f %d\\n", now() - t0, bad))
    io.flush()
    wrk.thread:stop()
  end
end
`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    const args = ['-t1', `-c${Math.min(connections, paths.length)}`, '-d600s', '--timeout', '10s', '--latency', '-s', script, `http://127.0.0.1:${port}`];
    const child = pin ? spawn(which('taskset')!, ['-c', LOAD_CPU, which('wrk')!, ...args]) : spawn(which('wrk')!, args);
    let text = '';
    let interrupted = false;
    const onData = (d: Buffer) => {
      text += d;
      if (!interrupted && text.includes('walk-done')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', () => (interrupted ? resolve(text) : reject(new Error(`wrk ended before the walk did: ${text}`))));
  });
  if (process.env.BOOT_STORM_DEBUG) process.stderr.write(out);
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const done = /walk-done ([\d.]+) (\d+)/.exec(out)!;
  const seconds = Number(done[1]);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = Number(done[2]) + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps: paths.length / seconds, p50ms: ms(/\s50%\s+([\d.]+)(us|ms|s)/), p99ms: ms(/\s99%\s+([\d.]+)(us|ms|s)/), errors, seconds };
}

/** The same order every run (a seeded Fisher-Yates): runs compare. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 0x9e3779b9;
  const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Resident memory of a process (KiB → bytes), from /proc. */
const rssOf = (pid: number): number => procStatusField(pid, 'VmRSS') * 1024;

/** Waits until `output()` holds `pattern` more than `seen` times (a log line of the server). */
async function untilLogged(output: () => string, pattern: string, seen: number, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (output().split(pattern).length - 1 <= seen) {
    if (Date.now() > deadline) throw new Error(`the server did not log "${pattern}" in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const count = (text: string, pattern: string) => text.split(pattern).length - 1;

async function startNginx(root: string, filesDir: string): Promise<{ port: number; child: ChildProcess; stop(): Promise<void> }> {
  const bin = which('nginx');
  if (!bin) throw new Error('nginx not installed');
  const port = await freePort();
  const conf = path.join(root, 'nginx.conf');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(path.join(root, d), { recursive: true });
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${root}/body;
  proxy_temp_path ${root}/proxy;
  fastcgi_temp_path ${root}/fastcgi;
  uwsgi_temp_path ${root}/uwsgi;
  scgi_temp_path ${root}/scgi;
  types { text/plain cfg; text/xml xml; }
  server {
    listen 127.0.0.1:${port};
    location /provision/ { alias ${filesDir}/; add_header Cache-Control no-store; }
  }
}
`,
  );
  const child = spawn(bin, ['-c', conf, '-p', root, '-e', path.join(root, 'error.log')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null) throw new Error('nginx exited at start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        process.kill(child.pid!, 'SIGTERM'); // the master (daemon off: our child) stops its worker
      }),
  };
}

/**
 * Whether a server answers phone fetches through the lean front door: only that parser refuses a
 * `Content-Length: 00` on a GET (400); node:http takes it and the handler says 404. Keeps the ours-lean row honest
 * when a build does not honour PROVISION_FAST_PATH.
 */
async function frontDoorOn(port: number): Promise<boolean> {
  const status = await new Promise<string>((resolve) => {
    let text = '';
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /provision/probe.cfg HTTP/1.1\r\nHost: bench\r\nContent-Length: 00\r\n\r\n'));
    s.on('data', (d) => {
      text += d;
      if (text.includes('\r\n')) {
        s.destroy();
        resolve(text.split(' ')[1] ?? '');
      }
    });
    s.on('error', () => resolve(''));
  });
  return status === '400';
}

async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Fills a fresh DATA_DIR through the store API (devices spread over accounts like a hosted PBX), then lets it go. */
export async function prepareDataDir(dataDir: string, size: number, perAccount: number): Promise<string[]> {
  await mkdir(dataDir, { recursive: true });
  const release = await acquireOwnership(dataDir, { pid: process.pid, kind: 'cli' });
  if (!release) throw new Error(`${dataDir} is owned by another process`);
  const paths: string[] = [];
  try {
    const store = await Store.open(dataDir, new DomainEvents());
    for (let base = 0; base < size; base += perAccount) {
      const acct = await bootstrapAccount(store, {
        name: `Tenant ${base / perAccount}`,
        realm: `t${base / perAccount}.bench.example.com`,
        username: 'admin',
        password: 'bench-pass',
      });
      const docs = [];
      for (let i = base; i < Math.min(size, base + perAccount); i++) docs.push(deviceDoc(acct.account_id, i, acct.user_id));
      for (let i = 0; i < docs.length; i += 1000) {
        await Promise.all(
          docs.slice(i, i + 1000).map(({ file, ...doc }) => {
            paths.push(`/provision/${file}`);
            return store.save(doc as DeviceDoc);
          }),
        );
      }
    }
  } finally {
    await release();
  }
  return paths;
}

/** The ceiling of node:http itself on this box: a bare server, in its own process, answering one constant 3 KB body. */
const FLOOR_SERVER = `
const http = require('node:http');
const body = Buffer.alloc(3000, 'x');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

async function startFloor(): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', FLOOR_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`node-floor exited ${code}`)));
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function runBootStorm(opts: BootStormOptions = {}): Promise<string> {
  const sizes = opts.sizes ?? [10_000, 100_000];
  const seconds = opts.durationSeconds ?? 10;
  const connections = opts.connections ?? 50;
  const rounds = Math.max(1, opts.rounds ?? 3);
  const perAccount = opts.devicesPerAccount ?? 5_000;
  const say = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const tool: 'wrk' | 'autocannon' = which('wrk') ? 'wrk' : 'autocannon';
  const pin = !!opts.pin && tool === 'wrk' && !!which('taskset') && os.cpus().length >= 2;
  const rows: BootStormRow[] = [];
  const walks: WalkRow[] = [];
  const facts: string[] = [];

  for (const size of sizes) {
    const tmp = await mkdtemp(path.join(os.tmpdir(), `boot-storm-${size}-`));
    await chmod(tmp, 0o755); // nginx workers run unprivileged and must reach the files
    const dataDir = path.join(tmp, 'data');
    let server: Awaited<ReturnType<typeof startServerProcess>> | undefined;
    let leanServer: Awaited<ReturnType<typeof startServerProcess>> | undefined;
    let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
    let floor: Awaited<ReturnType<typeof startFloor>> | undefined;
    try {
      const t0 = Date.now();
      const paths = await prepareDataDir(dataDir, size, perAccount);
      say(`[${size}] inserted ${size} devices through the store in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // The lean front door runs as a second server process: each owns its DATA_DIR, so it gets an identical copy.
      const leanDataDir = path.join(tmp, 'data-lean');
      await cp(dataDir, leanDataDir, { recursive: true });

      // The real entry point on that DATA_DIR (LOG_LEVEL info: the "listening on" line is how its port is learnt).
      // Both servers listen on their own port; a fixed provisioning URL and SIP address keep their files byte-equal
      // (by default both come from the Host the phone fetched with).
      const env: Record<string, string> = { DATA_DIR: dataDir, LOG_LEVEL: 'info', PROVISION_BASE_URL: 'http://prov.bench.invalid/provision', SIP_PUBLIC_ADDRESS: '192.0.2.10' };
      if (process.env.BOOT_STORM_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BOOT_STORM_NODE_OPTIONS;
      // "ours" = the node:http path alone (PROVISION_FAST_PATH=0); "ours-lean" = the default, with the front door.
      server = await startServerProcess({ ...env, PROVISION_FAST_PATH: '0' });
      leanServer = await startServerProcess({ ...env, DATA_DIR: leanDataDir, PROVISION_FAST_PATH: '1' });
      if (!(await frontDoorOn(leanServer.port))) throw new Error('PROVISION_FAST_PATH=1 did not enable the lean front door (src/config.ts must read it)');

      // Render every file once through our server (warms its cache) and write it for nginx. This pass stands for the
      // phones' previous fetch, so it presents itself as the measured load does (wrk sends no User-Agent): a server
      // may then answer the storm from what it kept of that fetch, as nginx serves the files written here.
      const asLoad = { headers: { 'user-agent': '' } };
      const t1 = Date.now();
      const filesDir = path.join(tmp, 'files');
      await mkdir(filesDir);
      const port = server.port;
      await eachConcurrently(paths, 32, async (p) => {
        const res = await fetch(`http://127.0.0.1:${port}${p}`, asLoad);
        if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
        await writeFile(path.join(filesDir, p.slice('/provision/'.length)), Buffer.from(await res.arrayBuffer()));
      });
      // The lean server renders its own cache the same way (its answers must be the very same bytes).
      const leanPort = leanServer.port;
      await eachConcurrently(paths, 32, async (p) => {
        const res = await fetch(`http://127.0.0.1:${leanPort}${p}`, asLoad);
        const body = Buffer.from(await res.arrayBuffer());
        const mine = await readFile(path.join(filesDir, p.slice('/provision/'.length)));
        if (res.status !== 200 || !body.equals(mine)) throw new Error(`${p}: lean server answered ${res.status}, ${body.length} bytes`);
      });
      say(`[${size}] rendered and wrote ${paths.length} files in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      // The warm storm measures the steady state: both servers' background walk after their start (which checks,
      // and on this fresh DATA_DIR renders, every device's files) is over first, as it is for phones long after a start.
      const t2 = Date.now();
      await untilLogged(server.output, 'rendered files up to date', 0);
      await untilLogged(leanServer.output, 'rendered files up to date', 0);
      say(`[${size}] background walk over ${((Date.now() - t2) / 1000).toFixed(1)} s after the files were fetched`);

      nginx = await startNginx(path.join(tmp, 'nginx'), filesDir).catch(async (err) => {
        await mkdir(path.join(tmp, 'nginx'), { recursive: true });
        return startNginx(path.join(tmp, 'nginx'), filesDir).catch(() => {
          say(`[${size}] nginx unavailable: ${(err as Error).message}`);
          return undefined;
        });
      });
      floor = await startFloor();
      if (pin) {
        // nginx: the master and the worker it forked (ps lists the worker as the master's child).
        const pids = [server.child.pid!, leanServer.child.pid!, floor.pid, ...(nginx ? [nginx.child.pid!, ...(await childPids(nginx.child.pid!))] : [])];
        for (const pid of pids) await pinProcess(pid);
      }

      // A short unmeasured run first for each (JIT, first-fetch bookkeeping such as the last-fetch journal).
      const targets: Array<{ server: BootStormRow['server']; port: number }> = [
        { server: 'ours', port },
        { server: 'ours-lean', port: leanPort },
        ...(nginx ? [{ server: 'nginx' as const, port: nginx.port }] : []),
        { server: 'node-floor', port: floor.port },
      ];
      for (const t of targets) await runLoad(tool, t.port, paths, 2, connections, tmp, pin);
      const measure = (t: (typeof targets)[number]) => runLoad(tool, t.port, paths, seconds, connections, tmp, pin);
      const target = (name: BootStormRow['server']) => targets.find((t) => t.server === name);
      const lean = target('ours-lean')!;
      const viaNginx = target('nginx');
      rows.push({ devices: size, server: 'ours', tool, ...(await measure(target('ours')!)) });
      if (viaNginx) {
        // ours-lean and nginx in turns, the first of each pair swapped every turn (neither always runs on a box
        // just warmed or cooled by the other); each turn's ratio compares two runs seconds apart.
        const leanRuns: Measured[] = [];
        const nginxRuns: Measured[] = [];
        for (let turn = 0; turn < rounds; turn++) {
          for (const t of turn % 2 === 0 ? [lean, viaNginx] : [viaNginx, lean]) (t === lean ? leanRuns : nginxRuns).push(await measure(t));
        }
        const turns = leanRuns.map((r, i) => ({ rps: r.rps, ratio: r.rps / nginxRuns[i]!.rps }));
        rows.push({ devices: size, server: 'ours-lean', tool, ...medianOf(leanRuns), turns });
        rows.push({ devices: size, server: 'nginx', tool, ...medianOf(nginxRuns) });
      } else {
        rows.push({ devices: size, server: 'ours-lean', tool, ...(await measure(lean)) });
      }
      rows.push({ devices: size, server: 'node-floor', tool, ...(await measure(target('node-floor')!)) });

      if (tool === 'wrk' && nginx) {
        // The other servers leave CPU 0 to ours-lean and nginx: a template edit would make the node:http server
        // re-render in its own background on the same core.
        await server.stop();
        server = undefined;
        await floor.stop();
        floor = undefined;
        // Cold: every file rendered ahead and written (the background walk logs when it is done; stop flushes),
        // then a restart with nothing in memory and each phone fetching its own file once.
        await leanServer.stop();
        leanServer = await startServerProcess({ ...env, DATA_DIR: leanDataDir, PROVISION_FAST_PATH: '1' });
        if (pin) await pinProcess(leanServer.child.pid!);
        const rssStart = rssOf(leanServer.child.pid!);
        const cold = await runWalk(leanServer.port, paths, connections, tmp, pin, 'cold-ours');
        const rssWalked = rssOf(leanServer.child.pid!);
        walks.push({ devices: size, walk: 'cold, all phones', server: 'ours-lean', files: paths.length, ...cold });
        walks.push({ devices: size, walk: 'cold, all phones', server: 'nginx', files: paths.length, ...(await runWalk(nginx.port, paths, connections, tmp, pin, 'cold-nginx')) });
        facts.push(
          `[${size}] restart to "listening": ${(leanServer.startupMs / 1000).toFixed(1)} s; RSS ${(rssStart / 2 ** 20).toFixed(0)} MB after start, ` +
            `${(rssWalked / 2 ** 20).toFixed(0)} MB after the cold walk = ${(rssWalked / size / 1024).toFixed(1)} KB per device ` +
            `(${((rssWalked - rssStart) / size / 1024).toFixed(1)} KB per device for the files served); ` +
            `answers kept by the previous run restored: ${/"restored":(\d+)/.exec(leanServer.output())?.[1] ?? 0}`,
        );

        // A built-in Yealink template edit (live reload), then at once a walk over the other vendors' phones. The
        // file is put back whatever happens.
        // Several walks on each side: one walk at 10k lasts about 0.1 s, and the same walk with no edit between
        // moved by up to 30% from one to the next.
        const others = paths.filter((p) => !p.startsWith('/provision/001565'));
        const walkOthers = async (name: string): Promise<Measured & { each: number[] }> => {
          const runs: Measured[] = [];
          for (let i = 0; i < rounds; i++) runs.push(await runWalk(leanServer!.port, others, connections, tmp, pin, `${name}-${i}`));
          return { ...medianOf(runs), each: runs.map((r) => r.rps) };
        };
        walks.push({ devices: size, walk: 'other vendors, before the edit', server: 'ours-lean', files: others.length, ...(await walkOthers('others-before')) });
        const template = path.join(ROOT, 'templates', 'yealink', 'mac.cfg.hbs');
        const original = await readFile(template, 'utf8');
        const reloads = count(leanServer.output(), 'built-in template reloaded');
        try {
          await writeFile(template, `${original}\n# boot-storm edit\n`);
          await untilLogged(leanServer.output, 'built-in template reloaded', reloads, 30_000);
          walks.push({ devices: size, walk: 'other vendors, after a Yealink edit', server: 'ours-lean', files: others.length, ...(await walkOthers('others-after')) });
        } finally {
          await writeFile(template, original);
        }
        walks.push({ devices: size, walk: 'other vendors, after a Yealink edit', server: 'nginx', files: others.length, ...(await runWalk(nginx.port, others, connections, tmp, pin, 'others-nginx')) });
      }
    } finally {
      await floor?.stop();
      await nginx?.stop();
      await server?.stop();
      await leanServer?.stop();
      await rm(tmp, { recursive: true, force: true });
    }
  }

  const lines = [
    `Boot storm: random phones fetching their per-device config over loopback, ${connections} connections, ${seconds} s per run, ${tool}, ${os.cpus().length} CPUs${pin ? `, servers pinned to CPU ${SERVER_CPU} and ${tool} to CPU ${LOAD_CPU}` : ''}`,
    '',
    'Each server is its own process. ours = PROVISION_FAST_PATH=0 (node:http only); ours-lean = the default PROVISION_FAST_PATH=1 (lean HTTP/1.1 front door for phone fetches, replaying kept answers after re-checking them).',
    'node-floor = bare node:http answering a constant 3 KB body: what any node:http handler can reach here.',
    '',
    '| devices | server | configs/s | p50 ms | p99 ms | errors | ours/nginx | ours/node-floor |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio = (other: BootStormRow['server']) => {
      const o = rows.find((x) => x.devices === r.devices && x.server === other);
      if (!(r.server === 'ours' || r.server === 'ours-lean') || !o) return '';
      // Taken in turns: the median of each turn's ratio, not the ratio of medians that may come from different turns.
      return (other === 'nginx' && r.turns ? median(r.turns.map((t) => t.ratio)) : r.rps / o.rps).toFixed(2);
    };
    lines.push(`| ${r.devices} | ${r.server} | ${Math.round(r.rps)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${r.errors} | ${ratio('nginx')} | ${ratio('node-floor')} |`);
  }
  const turned = rows.filter((r) => r.turns);
  if (turned.length > 0) {
    lines.push(
      '',
      `ours-lean and nginx ran in ${turned[0]!.turns!.length} turns (the order swapped each turn); their rows are medians, the ratio the median of each turn's:`,
      ...turned.map((r) => `[${r.devices}] ours-lean/nginx by turn: ${r.turns!.map((t) => `${t.ratio.toFixed(2)} (${Math.round(t.rps)}/s)`).join(', ')}`),
    );
  }
  if (walks.length > 0) {
    lines.push(
      '',
      `Walks: each phone fetches its file once, in a shuffled order (wrk, one pass over the list). "cold" = ours-lean restarted just before (nothing in memory: files come from DATA_DIR/rendered and answers from rendered/answers.jsonl, kept by the previous run); "after a Yealink edit" = at once after a built-in Yealink template was edited (live reload), over Polycom and Grandstream phones. Before and after the edit ours-lean walks ${rounds} times back to back; those rows are medians.`,
      '',
      '| devices | walk | server | files | configs/s | p50 ms | p99 ms | errors | ours/nginx |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const w of walks) {
      const o = walks.find((x) => x.devices === w.devices && x.server === 'nginx' && x.files === w.files && x.walk !== 'other vendors, before the edit' && (x.walk === w.walk || w.walk === 'other vendors, before the edit'));
      const ratio = w.server === 'ours-lean' && o ? (w.rps / o.rps).toFixed(2) : '';
      lines.push(`| ${w.devices} | ${w.walk} | ${w.server} | ${w.files} | ${Math.round(w.rps)} | ${w.p50ms.toFixed(2)} | ${w.p99ms.toFixed(2)} | ${w.errors} | ${ratio} |`);
    }
    lines.push('');
    for (const after of walks.filter((w) => w.walk === 'other vendors, after a Yealink edit' && w.each)) {
      const before = walks.find((w) => w.devices === after.devices && w.walk === 'other vendors, before the edit' && w.each);
      if (!before) continue;
      const change = (x: number) => `${x >= before.rps ? '+' : ''}${((x / before.rps - 1) * 100).toFixed(1)}%`;
      const rates = (w: WalkRow) => w.each!.map((x) => Math.round(x)).join(', ');
      lines.push(
        `[${after.devices}] other vendors' walks before the edit ${rates(before)}/s, after it ${rates(after)}/s: ` +
          `median ${change(after.rps)}, the first walk after ${change(after.each![0]!)} against the median before`,
      );
    }
    lines.push(...facts);
  }
  const report = lines.join('\n');
  say(report);
  return report;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  runBootStorm({
    sizes: arg('sizes')?.split(',').map(Number),
    durationSeconds: arg('duration') ? Number(arg('duration')) : undefined,
    connections: arg('connections') ? Number(arg('connections')) : undefined,
    pin: process.argv.includes('--pin'),
    rounds: arg('rounds') ? Number(arg('rounds')) : undefined,
  }).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
