import type { Logger } from '../log.js';

/**
 * "sip register refused" lines, at most one per source per window: a guessing run wrote 26,002 of them
 * in a drill, a disk-filling vector. What is held back is counted, and the count is written as one
 * summary line by the first refusal (or `flush`) after the window has passed. Bounded: at most
 * `maxSources` sources remembered; refusals from sources beyond that are only counted.
 */
export interface RefusalLogOptions {
  windowMs: number;
  maxSources?: number;
  now: () => number;
}

const MAX_SOURCES = 10_000;
/** Usernames and realms come from the wire: only this much of one reaches a log line. */
const MAX_LOGGED_USERNAME = 64;
const MAX_LOGGED_FIELD = 256;

export class RefusalLog {
  private readonly lastLogged = new Map<string, number>();
  private readonly maxSources: number;
  private held = 0;
  private windowStart: number;

  constructor(
    private readonly log: Logger,
    private readonly opts: RefusalLogOptions,
  ) {
    this.maxSources = opts.maxSources ?? MAX_SOURCES;
    this.windowStart = opts.now();
  }

  refused(why: string, fields: { source: string; username?: string; realm?: string; [k: string]: unknown }): void {
    const now = this.opts.now();
    this.flush();
    const last = this.lastLogged.get(fields.source);
    if (last !== undefined && now - last < this.opts.windowMs) {
      this.held++;
      return;
    }
    if (last !== undefined) this.lastLogged.delete(fields.source);
    else if (this.lastLogged.size >= this.maxSources) {
      const [oldest, at] = this.lastLogged.entries().next().value as [string, number];
      if (now - at < this.opts.windowMs) {
        this.held++;
        return;
      }
      this.lastLogged.delete(oldest);
    }
    this.lastLogged.set(fields.source, now);
    const line: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) line[k] = typeof v === 'string' ? v.slice(0, k === 'username' ? MAX_LOGGED_USERNAME : MAX_LOGGED_FIELD) : v;
    this.log.info(`sip register refused: ${why}`, line);
  }

  /** Writes the count of lines held back, once the window they were held in is over. */
  flush(): void {
    const now = this.opts.now();
    if (now - this.windowStart < this.opts.windowMs) return;
    if (this.held > 0) {
      this.log.warn('sip register refusals not logged', { count: this.held, window_seconds: Math.round((now - this.windowStart) / 1000) });
      this.held = 0;
    }
    this.windowStart = now;
  }
}
