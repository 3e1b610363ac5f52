import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Run one SIPp peer on loopback, bounded: `-m 1 -timeout 15s -timeout_error` inside SIPp, plus our own
 * kill-by-PID after `killAfterMs` in case SIPp itself hangs. Returns the exit code and the scenario's
 * <log> lines (written with -trace_logs to a per-run file).
 */
export const SCENARIOS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'scenarios');

export interface SippRun {
  pid: number;
  done: Promise<{ code: number | null; logs: string; stderr: string }>;
  kill(): void;
}

export interface SippOptions {
  scenario: string;
  ip: string;
  port: number;
  /** host:port of the server for UAC scenarios; omit for a UAS. */
  remote?: string;
  service?: string;
  auth?: { user: string; pass: string };
  keys?: Record<string, string | number>;
  extra?: string[];
  killAfterMs?: number;
}

export function sipp(o: SippOptions): SippRun {
  const dir = mkdtempSync(path.join(tmpdir(), 'sipp-'));
  const logFile = path.join(dir, 'logs.log');
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf', path.join(SCENARIOS, o.scenario),
    '-i', o.ip, '-p', String(o.port), '-bind_local',
    '-m', '1', '-timeout', '15s', '-timeout_error', '-nostdin', '-nr',
    '-trace_logs', '-log_file', logFile,
    '-trace_err', '-error_file', path.join(dir, 'err.log'),
    ...(o.service ? ['-s', o.service] : []),
    ...(o.auth ? ['-au', o.auth.user, '-ap', o.auth.pass] : []),
    ...Object.entries(o.keys ?? {}).flatMap(([k, v]) => ['-key', k, String(v)]),
    ...(o.extra ?? []),
  ];
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid!;
  const kill = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const guard = setTimeout(kill, o.killAfterMs ?? 20_000);
  const done = new Promise<{ code: number | null; logs: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(guard);
      const logs = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      const errs = existsSync(path.join(dir, 'err.log')) ? readFileSync(path.join(dir, 'err.log'), 'utf8') : '';
      resolve({ code, logs, stderr: stderr + errs });
    });
  });
  return { pid, done, kill };
}

/** Wait until SIPp's UAS socket is up (it binds within a few ms; poll instead of sleeping blindly). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, stepMs = 20): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
