/**
 * Storage + API write path at a carrier's size: create and PATCH latency (p50, p99) and throughput over
 * HTTP on loopback, with 1k, 10k and 100k devices already in one account. The data dir is pre-filled
 * through the Store (same code and files the server uses), then the real server process is started on it.
 * With a PostgreSQL server URL (`--postgres=postgres://user:pw@host:port/db`, or runApiBench's option), the same
 * runs on the PostgreSQL store: each size gets a fresh database created on that server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createDatabase } from '../test/helpers/postgres.js';
import os from 'node:os';
import path from 'node:path';
import { DomainEvents } from '../src/domain/events.js';
import { Store } from '../src/store/store.js';
import { bootstrapAccount } from '../src/accounts/bootstrap.js';
import { benchDevice, startServerProcess, summarize, table } from './lib.js';

interface Row {
  store: string;
  existing: number;
  op: string;
  p50: number;
  p99: number;
  seqRps: number;
  concRps: number;
  concP99: number;
}

async function prefill(dataDir: string, count: number, databaseUrl?: string) {
  const store = await Store.open(dataDir, new DomainEvents(), { databaseUrl });
  const boot = await bootstrapAccount(store, { name: 'Bench', realm: 'bench.test', username: 'admin', password: 'bench-pass' });
  const ids: string[] = [];
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const doc = benchDevice(boot.account_id, {
      name: `phone ${i}`,
      enabled: true,
      mac_address: (0x0004f2000000 + i).toString(16).padStart(12, '0'),
      sip: { username: `u${i}`, password: `pw-${i}-secret`, method: 'password', invite_format: 'username', expire_seconds: 300, registration_expiration: 300 },
      media: { audio: { codecs: ['PCMU', 'PCMA'] }, encryption: { enforce_security: false, methods: [] }, video: { codecs: [] } },
      call_restriction: {}, caller_id: {}, contact_list: {}, dial_plan: {}, music_on_hold: {}, ringtones: {},
      exclude_from_queues: false, mwi_unsolicited_updates: true, mwi_unsolicitated_updates: true, register_overwrite_notify: false, suppress_unregister_notifications: false,
    });
    ids.push(doc.id);
    batch.push(store.save(doc));
    // PostgreSQL: writes wait for one of the pool's connections, and a wait past its connect timeout is a refused
    // write; a few hundred in flight keep every connection busy without queueing thousands.
    if (batch.length === (databaseUrl ? 256 : 25_000)) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  await store.close();
  return { boot, ids };
}


async function timed(fn: () => Promise<Response>): Promise<number> {
  const t0 = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`bench request failed: ${res.status}`);
  return performance.now() - t0;
}

async function measure(op: () => Promise<Response>, sequential: number, concurrent: number, concurrency: number) {
  const seq: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < sequential; i++) seq.push(await timed(op));
  const seqElapsed = performance.now() - t0;
  const conc: number[] = [];
  let left = concurrent;
  const t1 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) conc.push(await timed(op));
    }),
  );
  const concElapsed = performance.now() - t1;
  return { seq: summarize(seq), seqRps: (sequential / seqElapsed) * 1000, concRps: (concurrent / concElapsed) * 1000, conc: summarize(conc) };
}

export async function runApiBench(sizes = [1_000, 10_000, 100_000], options: { postgresServerUrl?: string } = {}): Promise<string> {
  const rows: Row[] = [];
  const storeName = options.postgresServerUrl ? 'postgres' : 'lowdb';
  for (const size of sizes) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-api-'));
    const databaseUrl = options.postgresServerUrl ? await createDatabase(options.postgresServerUrl, `bench_${Math.random().toString(36).slice(2, 10)}`) : undefined;
    const t0 = performance.now();
    const { boot, ids } = await prefill(dataDir, size, databaseUrl);
    const fillSeconds = (performance.now() - t0) / 1000;
    const startT0 = performance.now();
    const server = await startServerProcess({ DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
    const startSeconds = (performance.now() - startT0) / 1000;
    try {
      const base = `http://127.0.0.1:${server.port}/v2`;
      const auth = await fetch(`${base}/api_auth`, { method: 'PUT', body: JSON.stringify({ data: { api_key: boot.api_key } }) });
      const token = ((await auth.json()) as { auth_token: string }).auth_token;
      const headers = { 'X-Auth-Token': token, 'Content-Type': 'application/json' };
      let n = 0;
      const create = () => fetch(`${base}/accounts/${boot.account_id}/devices`, { method: 'PUT', headers, body: JSON.stringify({ data: { name: `bench ${n++}`, sip: { username: `bench${n}`, password: 'bench-secret' } } }) });
      const patch = () => {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        return fetch(`${base}/accounts/${boot.account_id}/devices/${id}`, { method: 'PATCH', headers, body: JSON.stringify({ data: { language: `l${n++}` } }) });
      };
      for (const [name, op] of [['create', create], ['patch', patch]] as const) {
        const m = await measure(op, 300, 2000, 32);
        rows.push({ store: storeName, existing: size, op: name, p50: m.seq.p50, p99: m.seq.p99, seqRps: m.seqRps, concRps: m.concRps, concP99: m.conc.p99 });
      }
      process.stderr.write(`api bench (${storeName}): ${size} devices prefilled in ${fillSeconds.toFixed(1)} s, server started in ${startSeconds.toFixed(1)} s\n`);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return table(
    ['store', 'existing devices', 'op', 'p50 ms (sequential)', 'p99 ms (sequential)', 'req/s (sequential)', 'req/s (32 concurrent)', 'p99 ms (32 concurrent)'],
    rows.map((r) => [r.store, r.existing, r.op, r.p50, r.p99, r.seqRps, r.concRps, r.concP99]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const postgresServerUrl = args.find((a) => a.startsWith('--postgres='))?.slice('--postgres='.length);
  const sizes = args.map(Number).filter(Boolean);
  console.log(await runApiBench(sizes.length ? sizes : undefined, { postgresServerUrl }));
}
