import { afterEach, describe, expect, it, vi } from 'vitest';
import { Prerender } from '../../src/provision/prerender.js';
import type { Renderer } from '../../src/provision/renderer.js';
import type { Directory } from '../../src/store/directory.js';
import { yealink } from '../../vendors/yealink.js';
import { createLogger } from '../../src/log.js';

/**
 * The check after a start (idle-only work) gives way to the API: while requests are in flight it runs no slice,
 * and it goes on once they are done. Timers are vitest's fake ones (no wall-clock sleeps).
 */
const ACCOUNT = { id: 'a1', realm: 'r.example.com', name: 'A' };
const devices = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, pvt_account_id: 'a1', mac_address: `001565${i.toString(16).padStart(6, '0')}`, provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S' } }));
const directory = {
  listAccounts: () => [ACCOUNT],
  getAccount: () => ACCOUNT,
  listDevices: () => devices,
  getDevice: (_a: string, id: string) => devices.find((d) => d.id === id),
} as unknown as Directory;

function prerenderWith(apiBusy: () => boolean) {
  let checked = 0;
  const renderer = { asked: 0, keptMeta: () => undefined, originOf: () => undefined, freshen: () => (checked++, 'valid') } as unknown as Renderer;
  // The clock is the fake timers' too: a storm's pause is measured on it.
  const job = new Prerender({ directory, renderer, log: createLogger('error'), apiBusy, now: () => Date.now(), choiceOf: () => ({ profile: yealink, model: 'T46S', family: 't4x' }) });
  return { job, checked: () => checked };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Prerender: the check after a start waits while the API is busy', () => {
  it('runs no slice while requests are in flight, then checks every device once they are done', async () => {
    vi.useFakeTimers();
    let busy = true;
    const { job, checked } = prerenderWith(() => busy);
    job.all({}, true);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(checked()).toBe(0);
    expect(job.busy).toBe(true);
    busy = false;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(checked()).toBeGreaterThanOrEqual(devices.length);
    expect(job.busy).toBe(false);
  });

  it('work after an edit (a device saved) is not held back by the API: it is paced, not stopped', async () => {
    vi.useFakeTimers();
    const { job, checked } = prerenderWith(() => true);
    job.device('a1', 'd3');
    await vi.advanceTimersByTimeAsync(100);
    expect(checked()).toBeGreaterThan(0);
    expect(job.busy).toBe(false);
  });
});

describe('Prerender: a walk after a template edit holds back while phones keep the loop busy', () => {
  // 2,000 devices, each render "costing" 0.5 ms on the injected clock; every look finds phones fetching
  // (renderer.asked moves on every read).
  const many = Array.from({ length: 2000 }, (_, i) => ({ id: `m${i}`, pvt_account_id: 'a1', mac_address: `001565${i.toString(16).padStart(6, '0')}`, provision: { endpoint_brand: 'yealink', endpoint_model: 'T46S' } }));
  const manyDirectory = { ...directory, listDevices: () => many, getDevice: (_a: string, id: string) => many.find((d) => d.id === id) } as unknown as Directory;

  function walkWith(loopShare: number) {
    let renders = 0;
    let spent = 0;
    let asked = 0;
    const renderer = {
      get asked() {
        return ++asked;
      },
      keptMeta: () => undefined,
      originOf: () => undefined,
      freshen: () => (renders++, (spent += 0.5), 'rendered'),
    } as unknown as Renderer;
    const job = new Prerender({
      directory: manyDirectory,
      renderer,
      log: createLogger('error'),
      now: () => Date.now() + spent,
      loopBusy: () => loopShare,
      choiceOf: () => ({ profile: yealink, model: 'T46S', family: 't4x' }),
    });
    return { job, renders: () => renders, spent: () => spent };
  }

  it('a storm (loop 90% busy): one slice a second, never starved', async () => {
    vi.useFakeTimers();
    const { job, renders, spent } = walkWith(0.9);
    job.all({ vendor: 'yealink' });
    await vi.advanceTimersByTimeAsync(10_000);
    // At most 11 slices (one at once, then one per second) of 4 renders: 2 ms of each second at most. The former
    // pacing (a slice every 10 ms) did ~800 slices here.
    expect(renders()).toBeLessThanOrEqual(11 * 4);
    expect(renders()).toBeGreaterThanOrEqual(9 * 4);
    expect(spent()).toBeLessThanOrEqual(11 * 2);
    job.close();
  });

  it('a quiet loop (10% busy) gets a slice every gap', async () => {
    vi.useFakeTimers();
    const { job, renders } = walkWith(0.1);
    job.all({ vendor: 'yealink' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(renders()).toBeGreaterThanOrEqual(80 * 4);
    job.close();
  });

  it("a storm's short pause does not let the walk race; a longer quiet does", async () => {
    vi.useFakeTimers();
    let renders = 0;
    let asked = 0;
    let fetching = true;
    const renderer = {
      get asked() {
        return fetching ? ++asked : asked;
      },
      keptMeta: () => undefined,
      originOf: () => undefined,
      freshen: () => (renders++, 'rendered'),
    } as unknown as Renderer;
    const job = new Prerender({
      directory: manyDirectory,
      renderer,
      log: createLogger('error'),
      now: () => Date.now(),
      // The loop is busy while phones fetch, nearly idle in their pauses.
      loopBusy: () => (fetching ? 0.9 : 0.05),
      choiceOf: () => ({ profile: yealink, model: 'T46S', family: 't4x' }),
    });
    job.all({ vendor: 'yealink' });
    await vi.advanceTimersByTimeAsync(1_500);
    // A pause of 80 ms (less than stormSettleMs): the walk keeps the storm's pace, at most one slice.
    fetching = false;
    const beforePause = renders;
    await vi.advanceTimersByTimeAsync(80);
    expect(renders - beforePause).toBeLessThanOrEqual(4);
    // Phones again, then quiet for good: past the settle time the walk gets a slice every gap.
    fetching = true;
    await vi.advanceTimersByTimeAsync(500);
    fetching = false;
    const beforeQuiet = renders;
    await vi.advanceTimersByTimeAsync(400);
    expect(renders - beforeQuiet).toBeGreaterThanOrEqual(20 * 4);
    job.close();
  });

  it('a single device saved meanwhile is not held back by the storm', async () => {
    vi.useFakeTimers();
    const { job, renders } = walkWith(1);
    job.all({ vendor: 'yealink' });
    await vi.advanceTimersByTimeAsync(50);
    const before = renders();
    job.device('a1', 'm1999');
    await vi.advanceTimersByTimeAsync(50);
    expect(renders()).toBeGreaterThan(before);
    job.close();
  });
});
