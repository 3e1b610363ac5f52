/**
 * Admission in front of the node's PostgreSQL pool (issue 13).
 *
 * Why: pg.Pool has one timeout, connectionTimeoutMillis, for two different waits: opening a connection to
 * PostgreSQL, and waiting in pg's own queue for a client another request holds. With a pool of 20 and a burst of a
 * few thousand writes (2,000 concurrent PUT/PATCH of devices), most of the burst waits in that queue, and whatever
 * waits longer than the timeout fails and is answered 503 datastore_fault although PostgreSQL is healthy and
 * working through the burst as fast as it can.
 *
 * So at most `limit` operations hold or wait for a connection in pg itself; the others wait here, in a FIFO queue of
 * our own, for a slot to free up. That queue has no timeout: while PostgreSQL answers, every release lets the next
 * one in, so work is moving. pg's connect timeout then only measures reaching PostgreSQL (an admitted operation
 * finds an idle client or a free place for a new one, never a pg-queue of the burst).
 *
 * Two bounds keep the queue from hiding an outage:
 *  - It is bounded by count (`queueLimit`, DEFAULT_QUEUE_LIMIT): an operation that finds it full is refused at
 *    once with AdmissionQueueFull. The Store turns any backend failure that is neither a lost race nor a taken
 *    unique key into a DatastoreError, which the API answers 503 datastore_fault (src/app.ts), as for an outage.
 *  - When an admitted operation cannot connect (PostgreSQL down or unreachable: refused at once, or the connect
 *    timeout) and no admitted operation holds a working connection at that moment, nothing is moving and the
 *    operations queued then would only try the same thing one batch after the other (a 2,000-deep queue behind 20
 *    connect timeouts of 5 s would take minutes): they are all rejected with that error at once. Those arriving
 *    afterwards are admitted and try for themselves, so writes succeed again as soon as PostgreSQL is back. While
 *    some admitted operation holds a working connection, one failed connect (a blip) does not fail the queue.
 */

/** How many operations may wait for admission (per pool) before new ones are refused. */
export const DEFAULT_QUEUE_LIMIT = 10_000;

/** The admission queue is full: refused without waiting. The Store answers it as a datastore fault (503). */
export class AdmissionQueueFull extends Error {
  constructor(readonly waiting: number) {
    super(`PostgreSQL is busy: ${waiting} operations already wait for a connection (the admission queue is full)`);
    this.name = 'AdmissionQueueFull';
  }
}

export interface AdmissionOptions {
  /** Operations admitted at once (holding, or opening, a connection). At least 1. */
  limit: number;
  /** Operations that may wait for admission; default DEFAULT_QUEUE_LIMIT. */
  queueLimit?: number;
}

/** What `admit` gives: the opened resource and the function that frees its slot (idempotent). */
export interface Admitted<T> {
  value: T;
  release(): void;
}

interface Waiter {
  admit(): void;
  reject(err: unknown): void;
}

export class AdmissionGate {
  readonly limit: number;
  readonly queueLimit: number;
  /** Operations admitted: opening a connection, or holding one. */
  private active = 0;
  /** Admitted operations whose `open` succeeded and which have not released yet. */
  private connected = 0;
  private readonly queue: Array<Waiter | undefined> = [];
  /** Index of the queue's head (shifting a 10,000-long array at every admission would be quadratic). */
  private head = 0;

  constructor(options: AdmissionOptions) {
    if (!(options.limit >= 1)) throw new Error(`admission limit must be at least 1 (got ${options.limit})`);
    this.limit = Math.floor(options.limit);
    this.queueLimit = Math.max(0, Math.floor(options.queueLimit ?? DEFAULT_QUEUE_LIMIT));
  }

  /** Operations waiting for admission now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Operations admitted now (opening or holding a connection). */
  get admitted(): number {
    return this.active;
  }

  /**
   * Waits for a slot (FIFO, no timeout), then runs `open` (e.g. pg.Pool.connect) in it. On success the slot stays
   * taken until `release` is called; when `open` fails the slot is freed and its error is thrown (see the module
   * comment for what then happens to the queue). The queue full: rejects at once with AdmissionQueueFull.
   */
  async admit<T>(open: () => Promise<T>): Promise<Admitted<T>> {
    if (this.active < this.limit && this.waiting === 0) {
      this.active++;
    } else {
      if (this.waiting >= this.queueLimit) throw new AdmissionQueueFull(this.waiting);
      // The slot is handed over by the releaser (active stays counted), so no later arrival can overtake.
      await new Promise<void>((admit, reject) => this.queue.push({ admit, reject }));
    }
    let value: T;
    try {
      value = await open();
    } catch (err) {
      this.active--;
      if (this.connected === 0) this.rejectWaiting(err);
      else this.next();
      throw err;
    }
    this.connected++;
    let released = false;
    return {
      value,
      release: () => {
        if (released) return;
        released = true;
        this.connected--;
        this.active--;
        this.next();
      },
    };
  }

  /** Gives the slot just freed to the queue's head, if any. */
  private next(): void {
    if (this.active >= this.limit) return;
    const waiter = this.take();
    if (!waiter) return;
    this.active++;
    waiter.admit();
  }

  private take(): Waiter | undefined {
    if (this.head >= this.queue.length) return undefined;
    const waiter = this.queue[this.head];
    this.queue[this.head++] = undefined;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return waiter;
  }

  private rejectWaiting(err: unknown): void {
    for (let waiter = this.take(); waiter; waiter = this.take()) waiter.reject(err);
  }
}
