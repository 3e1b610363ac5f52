/**
 * SIP figures: digest REGISTERs per second (SIPp UAC, many users from an injection file) and the time to
 * check-sync 1,000 registered phones (one SIPp UAS answering every NOTIFY), both against the embedded
 * backend on loopback. The check-sync run goes through the resync coordinator (so the pacing at
 * RESYNC_RATE is part of the figure) and, for comparison, through SipService.notify unpaced.
 *
 *   npx tsx bench/sip-bench.ts            (or via `npm run bench`, which imports runSipBench)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DomainEvents } from '../src/domain/events.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createResyncCoordinator } from '../src/resync/index.js';
import { EmbeddedSipService } from '../src/sip/embedded.js';
import { MemoryDirectory } from '../test/sip/helpers/memory-directory.js';

const SCENARIOS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'sip', 'scenarios');
const REALM = 'bench.test';
const ACC = 'accbench';
/** The check-sync phones live in their own account so the REGISTER run's bindings are not notified. */
const ACC2 = 'accphones';
const REALM2 = 'phones.test';

export interface SipBenchOptions {
  registrations?: number;
  registerRate?: number;
  phones?: number;
  resyncRate?: number;
  log?: (line: string) => void;
}

export interface SipBenchResult {
  registrations: number;
  registerSeconds: number;
  registersPerSecond: number;
  registerFailures: number;
  checkSyncPhones: number;
  checkSyncPacedSeconds: number;
  resyncRate: number;
  checkSyncUnpacedSeconds: number;
  notifyOk: number;
}

function runSipp(args: string[], killAfterMs: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('sipp', args, { cwd: mkdtempSync(path.join(tmpdir(), 'sipp-bench-')), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const guard = setTimeout(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, killAfterMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stderr });
    }),
  );
}

function startSipp(args: string[], killAfterMs: number): { pid: number; done: Promise<{ code: number | null; stderr: string }> } {
  const p = runSipp(args, killAfterMs);
  return { pid: 0, done: p };
}

export async function runSipBench(options: SipBenchOptions = {}): Promise<SipBenchResult> {
  const say = options.log ?? ((l: string) => console.log(l));
  const registrations = options.registrations ?? 2000;
  const registerRate = options.registerRate ?? 500;
  const phones = options.phones ?? 1000;
  const resyncRate = options.resyncRate ?? 500;

  const directory = new MemoryDirectory();
  directory.addAccount(ACC, REALM);
  for (let i = 0; i < registrations; i++) directory.addDevice(ACC, `dev${i}`, { username: `u${i}`, password: `pw${i}` });
  directory.addAccount(ACC2, REALM2);
  for (let i = 0; i < phones; i++) directory.addDevice(ACC2, `ph${i}`, { username: `p${i}`, password: `pw${i}` });
  const config = loadConfig({ SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0', LOG_LEVEL: 'silent', RESYNC_RATE: String(resyncRate), SIP_MAX_EXPIRES: '3600' });
  const log = createLogger('silent');
  const sip = new EmbeddedSipService({ config, log, directory });
  await sip.start();
  const remote = `127.0.0.1:${sip.address()!.port}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sip-bench-'));
  const common = ['-nostdin', '-nr', '-timeout', '120s', '-timeout_error', '-bind_local', '-key', 'realm', REALM, '-key', 'expires', '3600'];

  try {
    // 1) REGISTER/s: every registration is REGISTER -> 401 -> REGISTER with digest -> 200.
    const csv = path.join(dir, 'users.csv');
    writeFileSync(csv, ['SEQUENTIAL', ...Array.from({ length: registrations }, (_, i) => `u${i};[authentication username=u${i} password=pw${i}]`)].join('\n') + '\n');
    const t0 = process.hrtime.bigint();
    const reg = await runSipp(
      [remote, '-sf', path.join(SCENARIOS, 'uac-register-bench.xml'), '-inf', csv, '-i', '127.0.0.2', '-p', '23001', '-m', String(registrations), '-r', String(registerRate), '-l', '500', '-key', 'contact_port', '23070', ...common],
      180_000,
    );
    const registerSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const registered = sip.registrations(ACC).length;
    const registerFailures = registrations - registered;
    if (reg.code !== 0) say(`sipp register run exited ${reg.code}: ${reg.stderr.slice(0, 400)}`);
    say(`SIP REGISTER (digest, 2 transactions each): ${registered}/${registrations} in ${registerSeconds.toFixed(2)} s = ${(registered / registerSeconds).toFixed(0)} registrations/s (offered ${registerRate}/s)`);

    // 2) check-sync 1,000 phones. Re-register the first `phones` users from 127.0.0.3 with their Contact on
    //    one SIPp UAS (127.0.0.3:23080) that answers every NOTIFY.
    const csv2 = path.join(dir, 'phones.csv');
    writeFileSync(csv2, ['SEQUENTIAL', ...Array.from({ length: phones }, (_, i) => `p${i};[authentication username=p${i} password=pw${i}]`)].join('\n') + '\n');
    const reg2 = await runSipp(
      [remote, '-sf', path.join(SCENARIOS, 'uac-register-bench.xml'), '-inf', csv2, '-i', '127.0.0.3', '-p', '23002', '-m', String(phones), '-r', String(registerRate), '-l', '500', '-key', 'contact_port', '23080', ...common.map((a) => (a === REALM ? REALM2 : a))],
      180_000,
    );
    if (reg2.code !== 0) say(`sipp phone registration exited ${reg2.code}: ${reg2.stderr.slice(0, 400)}`);

    const uasArgs = ['-sf', path.join(SCENARIOS, 'uas-notify.xml'), '-i', '127.0.0.3', '-p', '23080', '-m', String(phones), ...common];
    // a) through the resync coordinator: every phone's files "change" (fake fingerprints), paced at RESYNC_RATE.
    let version = 'v1';
    const events = new DomainEvents();
    const coordinator = createResyncCoordinator({
      config,
      log,
      directory,
      events,
      sip,
      provisioning: { fingerprint: async (accountId: string) => (accountId === ACC2 ? version : 'unchanged'), checkSyncEvent: () => 'check-sync' },
    });
    await coordinator.idle();
    await new Promise((r) => setTimeout(r, 50)); // baselines are recorded asynchronously
    const uasA = startSipp(uasArgs, 180_000);
    await new Promise((r) => setTimeout(r, 200)); // let the UAS bind
    version = 'v2';
    const t1 = process.hrtime.bigint();
    events.emit({ type: 'templates.changed' });
    await coordinator.idle();
    const checkSyncPacedSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    coordinator.stop();
    const a = await uasA.done;
    if (a.code !== 0) say(`sipp UAS (paced) exited ${a.code}: ${a.stderr.slice(0, 400)}`);
    say(`check-sync ${phones} phones via resync coordinator at RESYNC_RATE=${resyncRate}/s: ${checkSyncPacedSeconds.toFixed(2)} s`);

    // b) unpaced: all NOTIFYs at once through SipService.notify.
    const uasB = startSipp(uasArgs, 180_000);
    await new Promise((r) => setTimeout(r, 200));
    const t2 = process.hrtime.bigint();
    const ids = sip.registrations(ACC2).map((r) => r.deviceId);
    const results = await Promise.all(ids.map((id) => sip.notify(ACC2, id, { event: 'check-sync' })));
    const checkSyncUnpacedSeconds = Number(process.hrtime.bigint() - t2) / 1e9;
    const notifyOk = results.filter((r) => r.status === 200).length;
    const b = await uasB.done;
    if (b.code !== 0) say(`sipp UAS (unpaced) exited ${b.code}: ${b.stderr.slice(0, 400)}`);
    say(`check-sync ${ids.length} phones unpaced (all at once): ${checkSyncUnpacedSeconds.toFixed(2)} s, ${notifyOk} answered 200`);

    return {
      registrations: registered,
      registerSeconds,
      registersPerSecond: registered / registerSeconds,
      registerFailures,
      checkSyncPhones: phones,
      checkSyncPacedSeconds,
      resyncRate,
      checkSyncUnpacedSeconds,
      notifyOk,
    };
  } finally {
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
