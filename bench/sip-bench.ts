/**
 * SIP figures against the embedded backend on loopback, with the real Store (devices saved through
 * `store.save`, looked up by the registrar through the store's indexes):
 *
 *  1. REGISTER ceiling: SIPp phones (many users from an injection file, REGISTER → 401 → REGISTER with
 *     digest → 200, SIPp retransmitting like a phone) offered at increasing rates; the ceiling is the
 *     highest offered rate at which every registration completed. Each step is bounded (SIPp -timeout and
 *     a kill by PID), and stepping stops at the first step that does not hold (failures, or the server fell behind the offered rate).
 *  2. check-sync of 1,000 registered phones (one SIPp UAS answering every NOTIFY): through the resync
 *     coordinator (paced at RESYNC_RATE) and, for comparison, all at once through SipService.notify.
 *
 *   npx tsx bench/sip-bench.ts            (or via `npm run bench`, which imports runSipBench)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bootstrapAccount } from '../src/accounts/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { DomainEvents } from '../src/domain/events.js';
import type { DeviceDoc } from '../src/domain/types.js';
import { createLogger } from '../src/log.js';
import { createResyncCoordinator } from '../src/resync/index.js';
import { EmbeddedSipService } from '../src/sip/embedded.js';
import { Store } from '../src/store/store.js';
import { benchDevice } from './lib.js';

const SCENARIOS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'sip', 'scenarios');
const REALM = 'bench.test';
/** The check-sync phones live in their own account so the REGISTER runs' bindings are not notified. */
const REALM2 = 'phones.test';
/** SIPp's own socket buffers: without them SIPp, not the server, drops datagrams at high rates. */
const SIPP_BUFFER = String(4 * 1024 * 1024);

export interface SipBenchOptions {
  /** Distinct users registering in the ceiling runs (re-used round robin when a step needs more). */
  registrations?: number;
  /** First offered rate (REGISTER/s); its step gives registrations/registersPerSecond/registerFailures. */
  registerRate?: number;
  /** Offered rates tried in order after registerRate, stopping at the first step that does not hold. */
  ceilingRates?: number[];
  /** Seconds of offered load per step. */
  stepSeconds?: number;
  phones?: number;
  resyncRate?: number;
  log?: (line: string) => void;
}

export interface RegisterStep {
  offered: number;
  attempted: number;
  completed: number;
  failures: number;
  seconds: number;
  perSecond: number;
  sippExit: number | null;
  /** Datagrams the server received in the step (every REGISTER that reached it, retransmissions included). */
  serverDatagrams: number;
  /** Kernel UDP receive-buffer drops during the step, all loopback sockets (Linux /proc/net/snmp). */
  udpRcvbufErrors: number;
}

export interface SipBenchResult {
  registrations: number;
  registerSeconds: number;
  registersPerSecond: number;
  registerFailures: number;
  /** Highest offered REGISTER/s with 0 failures and kept pace with (see `holds`), and what was achieved at it. */
  registerCeiling: number;
  registerCeilingAchieved: number;
  registerSteps: RegisterStep[];
  checkSyncPhones: number;
  checkSyncPacedSeconds: number;
  resyncRate: number;
  checkSyncUnpacedSeconds: number;
  notifyOk: number;
  pacedNotifyOk: number;
  serverRecvBufferBytes: number;
}

interface SippRun {
  pid: number;
  done: Promise<{ code: number | null; stderr: string }>;
}

/** Start SIPp, killed by PID after `killAfterMs` if it has not exited by itself. */
function startSipp(args: string[], killAfterMs: number): SippRun {
  const child = spawn('sipp', args, { cwd: mkdtempSync(path.join(tmpdir(), 'sipp-bench-')), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid!;
  const guard = setTimeout(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }, killAfterMs);
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stderr });
    }),
  );
  return { pid, done };
}

function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A step holds when every registration completed and the server kept pace (≥ 95% of the offered rate).
 * Past that point phones still get through — their retransmissions see to it — but only by resending
 * (3–10 datagrams per registration instead of 2), which is the overload we want the ceiling to stop before.
 */
const holds = (s: RegisterStep) => s.failures === 0 && s.sippExit === 0 && s.perSecond >= 0.95 * s.offered;

const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

function deviceDoc(accountId: string, username: string, password: string): DeviceDoc {
  return benchDevice(accountId, { name: `Phone ${username}`, sip: { username, password, method: 'password' } });
}

async function saveDevices(store: Store, accountId: string, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => store.save(deviceDoc(accountId, `${prefix}${i + j}`, `pw${prefix}${i + j}`))));
  }
}

function injectionFile(dir: string, name: string, prefix: string, count: number): string {
  const file = path.join(dir, name);
  writeFileSync(file, ['SEQUENTIAL', ...Array.from({ length: count }, (_, i) => `${prefix}${i};[authentication username=${prefix}${i} password=pw${prefix}${i}]`)].join('\n') + '\n');
  return file;
}

export async function runSipBench(options: SipBenchOptions = {}): Promise<SipBenchResult> {
  const say = options.log ?? ((l: string) => console.log(l));
  const users = options.registrations ?? 2000;
  const registerRate = options.registerRate ?? 500;
  const ceilingRates = options.ceilingRates ?? [750, 1000, 1250, 1500, 2000, 3000, 4000];
  const stepSeconds = options.stepSeconds ?? 4;
  const phones = options.phones ?? 1000;
  const resyncRate = options.resyncRate ?? 500;

  const dir = mkdtempSync(path.join(tmpdir(), 'sip-bench-'));
  const events = new DomainEvents();
  const store = await Store.open(path.join(dir, 'data'), events);
  const bench = await bootstrapAccount(store, { name: 'SIP bench', realm: REALM, username: 'admin', password: 'bench-admin' });
  const phonesAccount = await bootstrapAccount(store, { name: 'SIP phones', realm: REALM2, username: 'admin', password: 'bench-admin' });
  await saveDevices(store, bench.account_id, 'u', users);
  await saveDevices(store, phonesAccount.account_id, 'p', phones);

  const config = loadConfig({ SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0', LOG_LEVEL: 'silent', RESYNC_RATE: String(resyncRate), SIP_MAX_EXPIRES: '3600' });
  const log = createLogger('silent');
  const sip = new EmbeddedSipService({ config, log, directory: store });
  await sip.start();
  const remote = `127.0.0.1:${sip.address()!.port}`;
  const common = (realm: string, timeoutS: number) => ['-nostdin', '-timeout', `${timeoutS}s`, '-timeout_error', '-bind_local', '-buff_size', SIPP_BUFFER, '-key', 'realm', realm, '-key', 'expires', '3600'];
  let completedInStep = 0;
  const unsubscribe = sip.onRegistration((_r, change) => {
    if (change === 'registered' || change === 'refreshed') completedInStep++;
  });

  try {
    // 1) REGISTER steps. Each step uses a fresh local port (SIPp keeps nothing between runs).
    const csv = injectionFile(dir, 'users.csv', 'u', users);
    const steps: RegisterStep[] = [];
    const rates = [registerRate, ...ceilingRates.filter((r) => r > registerRate)];
    for (const [n, offered] of rates.entries()) {
      const attempted = Math.max(users, Math.round(offered * stepSeconds));
      // A phone gives up after ~32 s of retransmissions: the step is over by then whatever happened.
      const timeoutS = Math.ceil(attempted / offered) + 35;
      completedInStep = 0;
      const datagramsBefore = sip.stats().received ?? 0;
      const dropsBefore = udpRcvbufErrors();
      const t0 = process.hrtime.bigint();
      const run = startSipp(
        [remote, '-sf', path.join(SCENARIOS, 'uac-register-bench.xml'), '-inf', csv, '-i', '127.0.0.2', '-p', String(23001 + n), '-m', String(attempted), '-r', String(offered), '-l', String(Math.max(500, offered)), '-key', 'contact_port', '23070', ...common(REALM, timeoutS)],
        (timeoutS + 10) * 1000,
      );
      const { code, stderr } = await run.done;
      const seconds = since(t0);
      const step: RegisterStep = {
        offered,
        attempted,
        completed: completedInStep,
        failures: attempted - Math.min(attempted, completedInStep),
        seconds,
        perSecond: completedInStep / seconds,
        sippExit: code,
        serverDatagrams: (sip.stats().received ?? 0) - datagramsBefore,
        udpRcvbufErrors: udpRcvbufErrors() - dropsBefore,
      };
      steps.push(step);
      say(
        `SIP REGISTER offered ${offered}/s: ${step.completed}/${attempted} in ${seconds.toFixed(2)} s = ${step.perSecond.toFixed(0)}/s, ` +
          `${step.failures} failed, sipp exit ${code}, ${step.serverDatagrams} datagrams at the server, ${step.udpRcvbufErrors} kernel rcvbuf drops`,
      );
      if (code !== 0 && step.failures === 0) say(`  sipp: ${stderr.slice(0, 300)}`);
      if (!holds(step)) break;
    }
    const first = steps[0]!;
    const ceiling = steps.filter(holds).at(-1);

    // 2) check-sync: phones register from 127.0.0.3 with their Contact on one SIPp UAS (127.0.0.3:23080).
    const csv2 = injectionFile(dir, 'phones.csv', 'p', phones);
    const reg2 = await startSipp(
      [remote, '-sf', path.join(SCENARIOS, 'uac-register-bench.xml'), '-inf', csv2, '-i', '127.0.0.3', '-p', '23050', '-m', String(phones), '-r', String(registerRate), '-l', '1000', '-key', 'contact_port', '23080', ...common(REALM2, 60)],
      70_000,
    ).done;
    if (reg2.code !== 0) say(`sipp phone registration exited ${reg2.code}: ${reg2.stderr.slice(0, 400)}`);
    const registeredPhones = sip.registrations(phonesAccount.account_id).length;

    const uasArgs = ['-sf', path.join(SCENARIOS, 'uas-notify.xml'), '-i', '127.0.0.3', '-p', '23080', '-m', String(registeredPhones), ...common(REALM2, 60)];
    // a) through the resync coordinator: every phone's files "change" (fake fingerprints), paced at RESYNC_RATE.
    let version = 'v1';
    let pacedNotifyOk = 0;
    const countingSip = Object.create(sip) as EmbeddedSipService;
    countingSip.notify = async (...args) => {
      const r = await sip.notify(...args);
      if (r.status === 200) pacedNotifyOk++;
      return r;
    };
    const coordinator = createResyncCoordinator({
      config,
      log,
      directory: store,
      events,
      sip: countingSip,
      provisioning: { fingerprint: async (accountId: string) => (accountId === phonesAccount.account_id ? version : 'unchanged'), checkSyncEvent: () => 'check-sync' },
    });
    await coordinator.idle();
    await new Promise((r) => setTimeout(r, 50)); // baselines are recorded asynchronously
    const uasA = startSipp(uasArgs, 70_000);
    await new Promise((r) => setTimeout(r, 200)); // let the UAS bind
    version = 'v2';
    const t1 = process.hrtime.bigint();
    events.emit({ type: 'templates.changed', accountId: phonesAccount.account_id });
    await coordinator.idle();
    const checkSyncPacedSeconds = since(t1);
    coordinator.stop();
    const a = await uasA.done;
    if (a.code !== 0) say(`sipp UAS (paced) exited ${a.code}: ${a.stderr.slice(0, 400)}`);
    say(`check-sync ${registeredPhones} phones via resync coordinator at RESYNC_RATE=${resyncRate}/s: ${checkSyncPacedSeconds.toFixed(2)} s, ${pacedNotifyOk} answered 200`);

    // b) unpaced: all NOTIFYs at once through SipService.notify.
    const uasB = startSipp(uasArgs, 70_000);
    await new Promise((r) => setTimeout(r, 200));
    const t2 = process.hrtime.bigint();
    const ids = sip.registrations(phonesAccount.account_id).map((r) => r.deviceId);
    const results = await Promise.all(ids.map((id) => sip.notify(phonesAccount.account_id, id, { event: 'check-sync' })));
    const checkSyncUnpacedSeconds = since(t2);
    const notifyOk = results.filter((r) => r.status === 200).length;
    const b = await uasB.done;
    if (b.code !== 0) say(`sipp UAS (unpaced) exited ${b.code}: ${b.stderr.slice(0, 400)}`);
    say(`check-sync ${ids.length} phones unpaced (all at once): ${checkSyncUnpacedSeconds.toFixed(2)} s, ${notifyOk} answered 200`);

    return {
      registrations: first.completed,
      registerSeconds: first.seconds,
      registersPerSecond: first.perSecond,
      registerFailures: first.failures,
      registerCeiling: ceiling?.offered ?? 0,
      registerCeilingAchieved: ceiling?.perSecond ?? 0,
      registerSteps: steps,
      checkSyncPhones: registeredPhones,
      checkSyncPacedSeconds,
      resyncRate,
      checkSyncUnpacedSeconds,
      notifyOk,
      pacedNotifyOk,
      serverRecvBufferBytes: sip.stats().recvBufferBytes ?? 0,
    };
  } finally {
    unsubscribe();
    await sip.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSipBench()
    .then((r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
