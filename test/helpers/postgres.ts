import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A real PostgreSQL server for the tests: Debian's binaries (package postgresql, installed by the pretest when
 * missing), a fresh cluster in a temporary directory, listening on 127.0.0.1 on a free port, stopped by PID.
 * As root (CI) the cluster belongs to the `postgres` user, since PostgreSQL refuses to run as root; the server
 * process is spawned with that uid directly, so the PID we hold is the postmaster itself.
 */
export interface PostgresServer {
  /** Superuser URL of the `postgres` database, password included. */
  url: string;
  port: number;
  /** The running postmaster's PID (changes with restart). */
  readonly pid: number;
  dir: string;
  /** Stops the server and deletes its directory. */
  stop(): Promise<void>;
  /** Kills the postmaster by PID (SIGQUIT: immediate shutdown, every connection dropped); the data stays. */
  kill(): Promise<void>;
  /** Starts a new server on the same data directory and port (after kill). */
  restart(): Promise<void>;
}

export const PG_USER = 'provisioner';
const PG_PASSWORD = 'test-only-password';

/** The directory of Debian's PostgreSQL server binaries (newest major installed). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  const newest = majors[0];
  return newest ? path.join(root, newest, 'bin') : undefined;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) throw new Error('running as root, but there is no postgres user (is the Debian package postgresql installed?)');
  return { uid, gid };
}

/**
 * `crashSafe`: commits reach the OS before they are acknowledged (synchronous_commit on), so a killed server
 * keeps them, as a production one does; the default trades that for speed (fsync stays off either way: the OS
 * does not crash in these tests). `durable`: PostgreSQL's own defaults (fsync, synchronous commit, full page
 * writes), as a production server runs: what the benches compare with lowdb's fsync per write.
 */
export async function startPostgres(options: { crashSafe?: boolean; durable?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (Debian package postgresql); the pretest installs it');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prov-pg-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`);
  const as = owner();
  if (as) {
    chownSync(dir, as.uid, as.gid);
    chownSync(pwfile, as.uid, as.gid);
  }
  const init = spawnSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { encoding: 'utf8', cwd: dir, ...(as ?? {}) },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const url = `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`;
  let child: ChildProcess;
  let log = '';
  const spawnServer = () => {
    // fsync off and small buffers: a throw-away cluster for tests, durability is tested against our own code.
    const speed = options.durable ? [] : ['-c', 'fsync=off', ...(options.crashSafe ? [] : ['-c', 'synchronous_commit=off']), '-c', 'full_page_writes=off'];
    child = spawn(
      path.join(bin, 'postgres'),
      ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, ...speed, '-c', 'max_connections=200', '-c', 'shared_buffers=64MB'],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], ...(as ?? {}) },
    );
    child.stderr!.on('data', (d) => (log += d));
  };
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(sig);
      await exited;
    }
  };
  const stop = async () => {
    await signal('SIGINT'); // fast shutdown
    rmSync(dir, { recursive: true, force: true });
  };
  const ready = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited: ${log}`);
      try {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.end();
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          await stop();
          throw new Error(`postgres did not accept connections: ${(err as Error).message} ${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  spawnServer();
  await ready();
  return {
    url,
    port,
    get pid() {
      return child.pid!;
    },
    dir,
    stop,
    kill: () => signal('SIGQUIT'),
    restart: async () => {
      spawnServer();
      await ready();
    },
  };
}

/** A new empty database on the server; returns its URL. Each test file takes its own, so files run in parallel. */
export async function createDatabase(serverUrl: string, name = `t_${Math.random().toString(36).slice(2, 12)}`): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
