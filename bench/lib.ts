import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DeviceDoc } from '../src/domain/types.js';
import { newId } from '../src/store/store.js';
import { mapBounded } from '../src/store/bounded-map.js';
import { md5Credentials } from '../src/accounts/user-service.js';

export const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * A device document ready for `store.save()` (the store stamps `_rev` and the times): the private skeleton
 * every bench needs, plus the public fields that bench cares about.
 */
export function benchDevice(accountId: string, fields: Record<string, unknown>): DeviceDoc {
  return { id: newId(), _rev: '', pvt_type: 'device', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, enabled: true, ...fields } as DeviceDoc;
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight; rejects on the first failure. */
/** `fn` over `items`, `concurrency` at a time (the store's own bounded map, src/store/bounded-map.ts). */
export async function eachConcurrently<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  await mapBounded(items, concurrency, fn);
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function summarize(samplesMs: number[]): { p50: number; p99: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(2)) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: Array<string | number>) => `| ${r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** Clock ticks per second of /proc's process times (sysconf CLK_TCK; 100 on Linux everywhere we run). */
const CLOCK_TICKS = 100;

/**
 * CPU time (user + system, ms) the processes used so far, from /proc/<pid>/stat (fields 14 and 15, every thread
 * counted). Read before and after a run: what a configuration costs per request, whatever the cores it had.
 */
export function cpuMsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/** A number field of /proc/<pid>/status (`VmRSS` in KiB, `voluntary_ctxt_switches`…); NaN once the process is gone. */
export function procStatusField(pid: number, field: string): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
}

/**
 * Times the processes' main threads (the event loops) went to sleep and were woken again: their voluntary context
 * switches. Per request, how well a loop batches its work: a busy loop answers many requests per wake-up.
 * Preemptions (involuntary switches) are not counted.
 */
export function wakeupsOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + procStatusField(pid, 'voluntary_ctxt_switches'), 0);
}

/** Starts the real server entry point (node + tsx loader, so the pid is the server) and waits for its port. */
export async function startServerProcess(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; startupMs: number; output(): string; stop(): Promise<void> }> {
  const started = Date.now();
  // BENCH_NODE_ARGS: node flags for the server only (--cpu-prof, --trace-gc… are refused in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', SIP_BACKEND: 'none', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  // BENCH_SERVER_LOG=<file>: keep the server's own output (e.g. with --trace-gc in its NODE_OPTIONS).
  const keep = process.env.BENCH_SERVER_LOG;
  if (keep) {
    const sink = createWriteStream(keep, { flags: 'a' });
    child.stdout!.pipe(sink);
    child.stderr!.pipe(sink);
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const match = /listening on http:\/\/[\d.]+:(\d+)/.exec(out);
    if (match) {
      return {
        child,
        port: Number(match[1]),
        startupMs: Date.now() - started,
        output: () => out,
        stop: () =>
          new Promise((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start (exit ${child.exitCode}): ${err.slice(-2000)} ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A bench tenant's admin (boot-storm.ts prepareDataDir: admin / bench-pass) logged in as Monster UI does. */
export async function benchLogin(base: string, realm: string): Promise<{ token: string; accountId: string }> {
  const body = JSON.stringify({ data: { credentials: md5Credentials('admin', 'bench-pass'), account_realm: realm } });
  const res = await fetch(`${base}/v2/user_auth`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body });
  if (res.status !== 201) throw new Error(`user_auth failed: ${res.status} ${await res.text()}`);
  const json = (await res.json()) as { auth_token: string; data: { account_id: string } };
  return { token: json.auth_token, accountId: json.data.account_id };
}
