import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs a TypeScript entry point of the project (src/main.ts, src/cli.ts) as a real child process.
 * Node loads tsx in-process (not the tsx wrapper binary), so the pid is the server itself and SIGKILL kills it.
 */
export function spawnTs(entry: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts `npm start`'s entry point on DATA_DIR and resolves with the port from its startup line. */
export async function spawnServer(dataDir: string, env: Record<string, string> = {}): Promise<Spawned & { port: number }> {
  const proc = spawnTs('src/main.ts', [], { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', LOG_LEVEL: 'info', ...env });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = /listening on http:\/\/[\d.]+:(\d+)/.exec(proc.stdout());
    if (match) return { ...proc, port: Number(match[1]) };
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`server did not start: ${proc.stderr()} ${proc.stdout()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
