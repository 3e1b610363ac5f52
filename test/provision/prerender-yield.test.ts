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
  const job = new Prerender({ directory, renderer, log: createLogger('error'), apiBusy, choiceOf: () => ({ profile: yealink, model: 'T46S', family: 't4x' }) });
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
