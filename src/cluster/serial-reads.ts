/**
 * Reads of a shared table, one at a time: a request while one runs asks for exactly one more after it (any number
 * of requests in between fold into that one), so a notice never overlaps a read and is never lost.
 */
export class SerialReads {
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly read: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The first read: its rejection goes to the caller (a startup error); requests meanwhile wait for it. */
  first(): Promise<void> {
    const read = this.read();
    this.track(read.catch(() => undefined));
    return read;
  }

  /** Reads now, or once more after the read under way. */
  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.track(this.read().catch((err: unknown) => this.onError(err)));
  }

  /** Resolves once no read is under way or asked for. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private track(read: Promise<void>): void {
    this.running = read.finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.request();
      }
    });
  }
}
