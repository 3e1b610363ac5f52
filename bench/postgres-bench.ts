/**
 * The API/storage figures of api-bench.ts on the PostgreSQL store (DATABASE_URL), beside the lowdb ones: create and
 * PATCH p50/p99 and throughput with N devices already in one account. A private PostgreSQL (Debian's server, as in
 * the tests: temp dir, loopback, stopped by PID) with one fresh database per size.
 *   npx tsx bench/postgres-bench.ts 1000 10000      (sizes; default 1k 10k 100k)
 * The server runs with PostgreSQL's durable defaults (fsync and synchronous commit on), as lowdb fsyncs each
 * write; BENCH_DATABASE_URL points the bench at another server instead.
 */
import { startPostgres } from '../test/helpers/postgres.js';
import { runApiBench } from './api-bench.js';

export async function runPostgresApiBench(sizes = [1_000, 10_000, 100_000]): Promise<string> {
  const external = process.env.BENCH_DATABASE_URL;
  const server = external ? undefined : await startPostgres({ durable: true });
  try {
    const base = external ?? server!.url;
    return await runApiBench(sizes, { postgresServerUrl: base });
  } finally {
    await server?.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  console.log(await runPostgresApiBench(sizes.length ? sizes : undefined));
}
