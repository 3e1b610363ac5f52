import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** What the control endpoint reports about this process's own health. */
export interface HealthFigures {
  /** Longest and 99th-percentile event-loop delay since the last reset, in ms. */
  event_loop_max_ms: number;
  event_loop_p99_ms: number;
  rss_bytes: number;
  /** Live JavaScript heap: what caches and tables hold, without the garbage RSS still counts. */
  heap_used_bytes: number;
  /** Peak resident set since the process started (the kernel's high-water mark). */
  max_rss_bytes: number;
}

/**
 * Watches how long the one event loop is held. Every HTTP request, phone fetch and SIP datagram shares it,
 * so its longest delay is the worst wait any client saw; the drill (`npm run drill`) reads it through the
 * loopback control endpoint to report the longest stall an attack caused.
 */
export class LoopMonitor {
  private readonly histogram: IntervalHistogram;

  constructor(resolutionMs = 10) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.histogram.enable();
  }

  /**
   * `collect`: run a full garbage collection first, when the process was started with --expose-gc (the drill
   * does), so that `heap_used_bytes` is what is really held and not garbage V8 has not got round to yet.
   */
  figures(collect = false): HealthFigures {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (collect && gc) gc();
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    return {
      event_loop_max_ms: ms(this.histogram.max),
      event_loop_p99_ms: ms(this.histogram.percentile(99)),
      rss_bytes: process.memoryUsage.rss(),
      heap_used_bytes: process.memoryUsage().heapUsed,
      max_rss_bytes: process.resourceUsage().maxRSS * 1024,
    };
  }

  reset(): void {
    this.histogram.reset();
  }

  stop(): void {
    this.histogram.disable();
  }
}
