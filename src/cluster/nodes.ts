import type pg from 'pg';
import type { Logger } from '../log.js';

/**
 * This node's heartbeat row, and a cached view of which nodes are alive. A node is alive while its heartbeat is
 * younger than `timeoutMs` by PostgreSQL's clock (one clock for all nodes: their own clocks may differ). The cache
 * is refreshed with every beat, so deciding "is the owner of this phone alive" costs no query; a decision that
 * acts on it (taking a phone over) re-checks in the database, atomically (registration-ownership.ts).
 */
export class NodeRegistry {
  private timer?: NodeJS.Timeout;
  private alive = new Set<string>();
  private beating?: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    readonly nodeId: string,
    readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly sip?: string,
  ) {
    this.alive.add(nodeId);
  }

  async start(): Promise<void> {
    await this.beat();
    const every = Math.max(100, Math.floor(this.timeoutMs / 3));
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .catch((err: unknown) => this.log.warn('cluster: heartbeat failed', { error: (err as Error).message }))
        .finally(() => {
          this.beating = undefined;
        });
    }, every);
    this.timer.unref();
  }

  /** One heartbeat, then the alive set as PostgreSQL sees it. */
  async beat(): Promise<void> {
    await this.pool.query(
      `INSERT INTO cluster_nodes (node_id, heartbeat_at, sip) VALUES ($1, clock_timestamp(), $2)
       ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = clock_timestamp(), sip = EXCLUDED.sip`,
      [this.nodeId, this.sip ?? null],
    );
    const { rows } = await this.pool.query<{ node_id: string }>(
      `SELECT node_id FROM cluster_nodes WHERE heartbeat_at > clock_timestamp() - $1 * interval '1 millisecond'`,
      [this.timeoutMs],
    );
    const alive = new Set(rows.map((r) => r.node_id));
    alive.add(this.nodeId);
    this.alive = alive;
  }

  isAlive(nodeId: string): boolean {
    return this.alive.has(nodeId);
  }

  /** Nodes alive at the last beat (this one included). */
  aliveNodes(): string[] {
    return [...this.alive];
  }

  /** Leaving on purpose: the row goes, so other nodes take over this node's phones at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    await this.pool.query('DELETE FROM cluster_nodes WHERE node_id = $1', [this.nodeId]).catch(() => undefined);
  }
}
