/**
 * Phones during big API reads: phone p50/p99/max (GET /provision/<file>, files already fetched once) with no
 * listing, while `paginate=false` listings of every device run back to back, and while filters that match
 * nothing run back to back (`has_key` with no index: a scan of every device; `filter_mac_address`: an index
 * hit). One account of `size` devices (the bench's boot-storm devices), the real server process (front door on).
 *
 *   npx tsx bench/listing-load.ts [--sizes 10000,100000] [--duration 5] [--phones 4]
 *   npm run bench -- listing        (also after the boot storm in `npm run bench -- boot`)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataDir } from './boot-storm.js';
import { benchLogin, eachConcurrently, startServerProcess, summarize, table } from './lib.js';

export interface ListingLoadOptions {
  sizes?: number[];
  /** Seconds each phase runs. */
  durationSeconds?: number;
  /** Phone connections fetching in a closed loop. */
  phones?: number;
  log?: (line: string) => void;
}

interface Phase {
  name: string;
  /** The API request run back to back during the phase; none = phones alone. */
  apiPath?: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One GET, body read and dropped; resolves with status and bytes. */
function get(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers, agent }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function runListingLoad(opts: ListingLoadOptions = {}): Promise<string> {
  const sizes = opts.sizes ?? [10_000, 100_000];
  const seconds = opts.durationSeconds ?? 5;
  const phones = opts.phones ?? 4;
  const say = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rows: Array<Array<string | number>> = [];
  for (const size of sizes) {
    const tmp = await mkdtemp(path.join(os.tmpdir(), `listing-load-${size}-`));
    let server: Awaited<ReturnType<typeof startServerProcess>> | undefined;
    try {
      const t0 = Date.now();
      const paths = await prepareDataDir(path.join(tmp, 'data'), size, size);
      say(`[listing ${size}] inserted ${size} devices in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      server = await startServerProcess({ DATA_DIR: path.join(tmp, 'data'), LOG_LEVEL: 'info', PROVISION_BASE_URL: 'http://prov.bench.invalid/provision' });
      const port = server.port;
      const { token: auth, accountId } = await benchLogin(`http://127.0.0.1:${port}`, 't0.bench.example.com');
      // The phones' files, fetched once (rendered and kept), as a phone's periodic re-fetch finds them.
      const phonePaths = paths.filter((_, i) => i % Math.max(1, Math.floor(paths.length / 300)) === 0);
      await eachConcurrently(phonePaths, 8, async (p) => {
        const r = await get(port, p);
        if (r.status !== 200) throw new Error(`${p}: ${r.status}`);
      });
      const devices = `/v2/accounts/${accountId}/devices`;
      const phases: Phase[] = [
        { name: 'no listing' },
        { name: 'paginate=false back to back', apiPath: `${devices}?paginate=false` },
        { name: 'has_key matching nothing (scan) back to back', apiPath: `${devices}?has_key=no_such_key` },
        { name: 'filter_mac_address matching nothing (index) back to back', apiPath: `${devices}?filter_mac_address=ffffffffffff` },
      ];
      for (const phase of phases) {
        const latencies: number[] = [];
        const api: number[] = [];
        let apiBytes = 0;
        let phoneErrors = 0;
        const end = performance.now() + seconds * 1000;
        let next = 0;
        const phone = async () => {
          while (performance.now() < end) {
            const p = phonePaths[next++ % phonePaths.length]!;
            const t = performance.now();
            const r = await get(port, p);
            latencies.push(performance.now() - t);
            if (r.status !== 200) phoneErrors++;
          }
        };
        const lister = async () => {
          if (!phase.apiPath) return;
          while (performance.now() < end) {
            const t = performance.now();
            const r = await get(port, phase.apiPath, { 'X-Auth-Token': auth });
            if (r.status !== 200) throw new Error(`${phase.apiPath}: ${r.status}`);
            api.push(performance.now() - t);
            apiBytes = r.bytes;
          }
        };
        await Promise.all([lister(), ...Array.from({ length: phones }, phone)]);
        latencies.sort((a, b) => a - b);
        const s = summarize(latencies);
        const a = api.length ? summarize(api.sort((x, y) => x - y)) : undefined;
        rows.push([
          size,
          phase.name,
          latencies.length,
          s.p50.toFixed(2),
          s.p99.toFixed(2),
          latencies.at(-1)!.toFixed(1),
          phoneErrors,
          a ? `${api.length} × ${(apiBytes / 1e6).toFixed(2)} MB, p50 ${a.p50.toFixed(0)} ms` : '–',
        ]);
        say(`[listing ${size}] ${phase.name}: phone p99 ${s.p99.toFixed(2)} ms over ${latencies.length} fetches`);
      }
    } finally {
      await server?.stop();
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return table(['devices (one account)', 'during', 'phone fetches', 'phone p50 ms', 'phone p99 ms', 'phone max ms', 'phone errors', 'API requests (each: size, p50)'], rows);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  runListingLoad({
    sizes: arg('sizes')?.split(',').map(Number),
    durationSeconds: arg('duration') ? Number(arg('duration')) : undefined,
    phones: arg('phones') ? Number(arg('phones')) : undefined,
  }).then(
    (report) => {
      console.log(report);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
