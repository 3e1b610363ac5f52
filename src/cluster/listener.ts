import pg from 'pg';
import { redactedUrl } from '../store/postgres/connection.js';

/**
 * One LISTEN connection that stays up by itself: when PostgreSQL restarts or the network drops, it reconnects
 * with a capped back-off, listens again on every channel, and calls `onConnect` so that each user runs its
 * catch-up query (notifications sent while we were away are lost by design: NOTIFY is not a queue).
 */
export interface ListenerLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export class Listener {
  private client?: pg.Client;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private readonly connectHooks = new Set<() => void>();
  private stopped = false;
  private retryMs = 100;
  private retryTimer?: NodeJS.Timeout;
  private connecting?: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly log: ListenerLog,
    private readonly maxRetryMs = 5000,
  ) {}

  /** Resolves once the first connection listens (rejects if it cannot be made: a startup error). */
  async start(): Promise<void> {
    await this.connect();
  }

  on(channel: string, handler: (payload: string) => void): () => void {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      this.client?.query(`LISTEN ${channel}`).catch(() => undefined);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Called after every (re)connection, once LISTEN is in place: the moment to catch up. */
  onConnect(hook: () => void): () => void {
    this.connectHooks.add(hook);
    return () => this.connectHooks.delete(hook);
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, application_name: 'provisioner-listen', connectionTimeoutMillis: 5000 });
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      client.on('notification', (msg) => {
        for (const handler of this.handlers.get(msg.channel) ?? []) {
          try {
            handler(msg.payload ?? '');
          } catch (err) {
            this.log.warn('db listener: handler failed', { channel: msg.channel, error: (err as Error).message });
          }
        }
      });
      try {
        await client.connect();
        for (const channel of this.handlers.keys()) await client.query(`LISTEN ${channel}`);
      } catch (err) {
        client.end().catch(() => undefined);
        throw err;
      }
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.retryMs = 100;
      for (const hook of this.connectHooks) hook();
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    if (!this.stopped) {
      this.log.warn('db listener: connection lost, reconnecting', { url: redactedUrl(this.url) });
      this.retry();
    }
  }

  private retry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch(() => {
        this.retryMs = Math.min(this.maxRetryMs, this.retryMs * 2);
        this.retry();
      });
    }, this.retryMs);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
