import { describe, expect, it } from 'vitest';
import { Pacer, type PacerClock } from '../../src/resync/pacer.js';

/**
 * The pacer's rate, counted per tick with a hand-driven clock: nothing here depends on how fast the
 * machine is or when Node's timers fire, so it cannot be flaky.
 */
class ManualClock implements PacerClock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];
  now = () => this.t;
  schedule(fn: () => void, ms: number) {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  /** Move time to the next timer (or by `ms` when given, firing late like a busy event loop) and fire it. */
  tick(ms?: number): boolean {
    const next = this.timers.sort((a, b) => a.at - b.at).shift();
    if (!next) return false;
    this.t = ms === undefined ? next.at : this.t + ms;
    next.fn();
    return true;
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(rate: number, options: { maxInFlight?: number; hold?: boolean } = {}) {
  const clock = new ManualClock();
  const started: number[] = [];
  const pending: Array<() => void> = [];
  const pacer = new Pacer<number>(
    rate,
    (n) => {
      started.push(n);
      return options.hold ? new Promise<void>((resolve) => pending.push(resolve)) : Promise.resolve();
    },
    (_a, b) => b,
    (err) => {
      throw err;
    },
    { clock, maxInFlight: options.maxInFlight },
  );
  return { clock, pacer, started, pending };
}

describe('resync pacer', () => {
  it('sends exactly rate × elapsed: 5 per 10 ms tick at 500/s, 500 in one simulated second', () => {
    const { clock, pacer, started } = setup(500);
    for (let i = 0; i < 1000; i++) pacer.push(`k${i}`, i);
    expect(started).toHaveLength(1); // the first goes at once
    const perTick: number[] = [];
    for (let i = 0; i < 100; i++) {
      const before = started.length;
      clock.tick();
      perTick.push(started.length - before);
    }
    expect(clock.t).toBe(1000);
    expect(new Set(perTick)).toEqual(new Set([5]));
    expect(started).toHaveLength(501);
    expect(started.slice(0, 5)).toEqual([0, 1, 2, 3, 4]); // queue order
  });

  it('keeps the rate when ticks fire late (15 ms instead of 10): late time is credited, not lost', () => {
    const { clock, pacer, started } = setup(500);
    for (let i = 0; i < 2000; i++) pacer.push(`k${i}`, i);
    while (clock.t < 3000) clock.tick(15);
    expect(clock.t).toBe(3000);
    expect(started).toHaveLength(1 + 1500);
  });

  it('paces low rates below one per tick (20/s: one every 50 ms)', () => {
    const { clock, pacer, started } = setup(20);
    for (let i = 0; i < 40; i++) pacer.push(`k${i}`, i);
    while (clock.t < 1000) clock.tick();
    expect(started).toHaveLength(1 + 20);
    expect(pacer.size).toBe(19);
  });

  it('waits for answers concurrently but never has more than maxInFlight unfinished', async () => {
    const { clock, pacer, started, pending } = setup(500, { maxInFlight: 12, hold: true });
    for (let i = 0; i < 100; i++) pacer.push(`k${i}`, i);
    for (let i = 0; i < 10; i++) clock.tick();
    expect(started).toHaveLength(12);
    expect(pacer.running).toBe(12);
    // Three phones answer: three more go, at once (credit has piled up meanwhile, capped at the burst).
    for (const resolve of pending.splice(0, 3)) resolve();
    await flush();
    expect(started).toHaveLength(15);
    expect(pacer.running).toBe(12);
  });

  it('merges a key pushed twice while waiting and drops a deleted key', () => {
    const clock = new ManualClock();
    const started: Array<{ n: number; force: boolean }> = [];
    const pacer = new Pacer<{ n: number; force: boolean }>(
      100,
      async (item) => void started.push(item),
      (a, b) => ({ n: b.n, force: a.force || b.force }),
      () => undefined,
      { clock },
    );
    pacer.push('first', { n: 0, force: false });
    pacer.push('a', { n: 1, force: true });
    pacer.push('a', { n: 2, force: false });
    pacer.push('b', { n: 3, force: false });
    pacer.drop('b');
    while (clock.tick());
    expect(started).toEqual([
      { n: 0, force: false },
      { n: 2, force: true },
    ]);
  });
});
