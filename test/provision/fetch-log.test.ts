import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { FetchLog } from '../../src/provision/fetch-log.js';

/** The last-fetch journal: appended while running, folded into the snapshot when it outgrows it, read back on start. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const log = createLogger('error', () => undefined);
const files = (dataDir: string) => ({
  snapshot: path.join(dataDir, 'provisioning', 'last-fetch.json'),
  journal: path.join(dataDir, 'provisioning', 'last-fetch.journal'),
});
/** A log in a new DATA_DIR, its journal flushed only when asked (60 s timer), loaded. */
async function openLog(minPersistSeconds: number): Promise<FetchLog> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'fetch-log-'));
  dirs.push(dataDir);
  const fetchLog = new FetchLog(dataDir, log, 60_000, minPersistSeconds);
  await fetchLog.load();
  return fetchLog;
}
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

describe('last-fetch journal', () => {
  it('folds the journal into the snapshot once it has more lines than entries (and the threshold)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fetch-log-'));
    dirs.push(dataDir);
    // Flush by hand (long timer), every change significant (minPersistSeconds 0), fold after 5 lines.
    const fetchLog = new FetchLog(dataDir, log, 60_000, 0, 5);
    await fetchLog.load();
    const { snapshot, journal } = files(dataDir);
    const flush = () => (fetchLog as unknown as { writer: { flush(): Promise<void> } }).writer.flush();

    // Three devices polling: each round dirties three entries.
    for (let round = 1; round <= 2; round++) {
      for (const d of ['d1', 'd2', 'd3']) fetchLog.record('acct', d, { time: round, address: `10.0.0.${round}`, user_agent: 'ua', file: `${d}.cfg`, vendor: 'yealink' });
      await flush();
    }
    // 6 lines > max(5, 3 entries): folded; the snapshot holds the latest of each, the journal is gone.
    expect(lines(journal)).toBe(0);
    const folded = JSON.parse(readFileSync(snapshot, 'utf8')) as Record<string, { time: number; address: string }>;
    expect(Object.keys(folded).sort()).toEqual(['d1', 'd2', 'd3']);
    expect(folded.d2).toMatchObject({ time: 2, address: '10.0.0.2' });

    // Below the threshold the journal just grows; a restart reads snapshot + journal.
    fetchLog.record('acct', 'd1', { time: 3, address: '10.0.0.3', user_agent: 'ua', file: 'd1.cfg', vendor: 'yealink' });
    await flush();
    expect(lines(journal)).toBe(1);
    const reopened = new FetchLog(dataDir, log, 60_000, 0, 5);
    await reopened.load();
    expect(reopened.get('d1')).toMatchObject({ time: 3, address: '10.0.0.3' });
    expect(reopened.get('d3')).toMatchObject({ time: 2, address: '10.0.0.2' });
    await reopened.close();
    await fetchLog.close();
  });

  it('reads back only well-formed entries from a hand-edited snapshot and journal', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fetch-log-'));
    dirs.push(dataDir);
    const { snapshot, journal } = files(dataDir);
    mkdirSync(path.dirname(snapshot), { recursive: true });
    writeFileSync(
      snapshot,
      JSON.stringify({
        good: { time: 5, address: '10.0.0.5', user_agent: 'ua', file: 'f.cfg', vendor: 'yealink', accountId: 'a', persistedAt: 5 },
        badTime: { time: 'yesterday', address: '10.0.0.6' },
        oddTypes: { time: 7, address: 42, user_agent: { x: 1 }, file: null, vendor: 'polycom' },
        notAnObject: 'x',
      }),
    );
    writeFileSync(journal, `${JSON.stringify({ id: 'good', time: 9, address: '10.0.0.9', user_agent: 'ua', file: 'f.cfg', vendor: 'yealink' })}\n{"id": 3}\n{torn`);
    const fetchLog = new FetchLog(dataDir, log, 60_000);
    await fetchLog.load();
    expect(fetchLog.get('good')).toEqual({ time: 9, address: '10.0.0.9', user_agent: 'ua', file: 'f.cfg', vendor: 'yealink', model: undefined });
    expect(fetchLog.get('badTime')).toBeUndefined();
    expect(fetchLog.get('notAnObject')).toBeUndefined();
    expect(fetchLog.get('oddTypes')).toEqual({ time: 7, address: '', user_agent: '', file: '', vendor: 'polycom', model: undefined });
    await fetchLog.close();
  });

  it('updates an entry in place, so a holder of it keeps the live one', async () => {
    const fetchLog = await openLog(0);
    fetchLog.record('acct', 'd', { time: 1, address: 'a', user_agent: 'ua', file: 'f', vendor: 'yealink' });
    const held = fetchLog.peek('d')!;
    fetchLog.record('acct', 'd', { time: 2, address: 'b', user_agent: 'ua2', file: 'g', vendor: 'polycom', model: 'VVX400' });
    expect(fetchLog.peek('d')).toBe(held);
    expect(held).toMatchObject({ time: 2, address: 'b', user_agent: 'ua2', file: 'g', vendor: 'polycom', model: 'VVX400' });
    // touchEntry: only the time moves, and only when nothing else changed.
    expect(fetchLog.touchEntry(held, 3, 'b', 'ua2', 'g')).toBe(false); // minPersistSeconds 0: the time alone is significant
    await fetchLog.close();
  });

  it('a forgotten entry takes no more touches, so its holder records a live one instead', async () => {
    const fetchLog = await openLog(300);
    fetchLog.record('acct', 'd', { time: 1_000, address: 'a', user_agent: 'ua', file: 'f', vendor: 'yealink' });
    const held = fetchLog.peek('d')!;
    await fetchLog.flush(); // persisted: from now on a fetch like the last one only moves the time
    expect(fetchLog.touchEntry(held, 2_000, 'a', 'ua', 'f')).toBe(true);
    fetchLog.forget('d');
    expect(fetchLog.touchEntry(held, 3_000, 'a', 'ua', 'f')).toBe(false);
    fetchLog.record('acct', 'd', { time: 3_000, address: 'a', user_agent: 'ua', file: 'f', vendor: 'yealink' });
    expect(fetchLog.peek('d')).not.toBe(held);
    expect(fetchLog.get('d')?.time).toBe(3_000);
    await fetchLog.close();
  });

  it('a muted log takes touches without moving anything (the rehearsal before the port opens)', async () => {
    const fetchLog = await openLog(300);
    fetchLog.record('acct', 'd', { time: 1_000, address: 'a', user_agent: 'ua', file: 'f', vendor: 'yealink' });
    await fetchLog.flush();
    fetchLog.muted = true;
    expect(fetchLog.touchEntry(fetchLog.peek('d')!, 5_000, 'a', 'ua', 'f')).toBe(true);
    expect(fetchLog.get('d')?.time).toBe(1_000);
    await fetchLog.close();
  });

  it('does not bring a forgotten device back after a crash, whether its entry was journalled or folded', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fetch-log-'));
    dirs.push(dataDir);
    const flushOf = (f: FetchLog) => () => (f as unknown as { writer: { flush(): Promise<void> } }).writer.flush();
    const rec = (t: number) => ({ time: t, address: '10.0.0.1', user_agent: 'ua', file: 'f.cfg', vendor: 'yealink' });

    // 'folded' ends up in the snapshot (clean close), 'journalled' only in the journal of the next run.
    const first = new FetchLog(dataDir, log, 60_000, 0);
    await first.load();
    first.record('acct', 'folded', rec(1));
    await first.close();
    const second = new FetchLog(dataDir, log, 60_000, 0);
    await second.load();
    second.record('acct', 'journalled', rec(2));
    second.record('acct', 'kept', rec(3));
    await flushOf(second)();
    expect(lines(files(dataDir).journal)).toBe(2);
    second.forget('folded');
    second.forget('journalled');
    await flushOf(second)();
    // Crash: no close, so no fold; the next start reads the snapshot and every journal line.
    const third = new FetchLog(dataDir, log, 60_000, 0);
    await third.load();
    expect(third.get('folded')).toBeUndefined();
    expect(third.get('journalled')).toBeUndefined();
    expect(third.get('kept')).toMatchObject({ time: 3 });
    // And the fold at that start wrote them out for good.
    const folded = JSON.parse(readFileSync(files(dataDir).snapshot, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(folded)).toEqual(['kept']);
    await third.close();
  });

  it('journals a forget on its own timer, without waiting for another fetch to be recorded', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fetch-log-'));
    dirs.push(dataDir);
    const fetchLog = new FetchLog(dataDir, log, 1, 0);
    await fetchLog.load();
    const { journal } = files(dataDir);
    const journalHas = (text: string) => existsSync(journal) && readFileSync(journal, 'utf8').includes(text);
    const until = async (ready: () => boolean) => {
      for (let i = 0; i < 400 && !ready(); i++) await new Promise((r) => setTimeout(r, 5));
      return ready();
    };
    fetchLog.record('acct', 'd', { time: 1, address: 'a', user_agent: 'ua', file: 'f', vendor: 'yealink' });
    expect(await until(() => journalHas('"id":"d"'))).toBe(true);
    fetchLog.forget('d');
    expect(await until(() => journalHas('"forgotten":true'))).toBe(true);
    const reopened = new FetchLog(dataDir, log, 60_000, 0);
    await reopened.load();
    expect(reopened.get('d')).toBeUndefined();
    await reopened.close();
    await fetchLog.close();
  });

  it('drops at start the entry of a device deleted less than a flush before a crash (no tombstone written yet)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fetch-log-'));
    dirs.push(dataDir);
    const first = new FetchLog(dataDir, log, 60_000, 0);
    await first.load();
    first.record('acct', 'deleted', { time: 1, address: 'a', user_agent: 'ua', file: 'f', vendor: 'yealink' });
    first.record('acct', 'alive', { time: 2, address: 'a', user_agent: 'ua', file: 'g', vendor: 'yealink' });
    await first.close();
    // The device is deleted and the process dies before the next flush: only the directory knows.
    const devices = new Set(['acct/alive']);
    const again = new FetchLog(dataDir, log, 60_000, 0);
    await again.load((accountId, deviceId) => devices.has(`${accountId}/${deviceId}`));
    expect(again.get('deleted')).toBeUndefined();
    expect(again.get('alive')).toMatchObject({ time: 2 });
    await again.close();
    const onDisk = JSON.parse(readFileSync(files(dataDir).snapshot, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(onDisk)).toEqual(['alive']);
  });
});
