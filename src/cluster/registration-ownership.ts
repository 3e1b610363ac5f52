import type pg from 'pg';
import type { Registration } from '../sip/service.js';
import type { NodeRegistry } from './nodes.js';

/**
 * Who sends a phone its check-sync in a cluster. Every node sees every change (its own writes, and the others'
 * through the change feed), and every node knows every registration; only the node that owns the phone's binding
 * (it answered the REGISTER, so its socket reaches the phone through any NAT) sends the NOTIFY. When the owner is
 * gone (heartbeat stale), the first node to claim the binding in the database becomes its owner: the claim is one
 * conditional UPDATE, so of two nodes claiming at once exactly one wins.
 */
export interface RegistrationOwnership {
  /** This node sends for this binding (made here, or taken over). */
  owns(registration: Registration): boolean;
  /** The owner (another node) was alive at the last heartbeat: leave the phone to it. No query. */
  ownerAlive(registration: Registration): boolean;
  /** Takes the binding over if its owner is gone; true when this node owns it afterwards. */
  claim(registration: Registration): Promise<boolean>;
}

export class ClusterOwnership implements RegistrationOwnership {
  constructor(
    private readonly pool: pg.Pool,
    private readonly nodes: NodeRegistry,
    /** Records locally that this node owns the binding now (SharedRegistrations.adopt). */
    private readonly adopt: (registration: Registration) => void,
  ) {}

  owns(registration: Registration): boolean {
    return registration.node === undefined || registration.node === this.nodes.nodeId;
  }

  ownerAlive(registration: Registration): boolean {
    return registration.node !== undefined && this.nodes.isAlive(registration.node);
  }

  async claim(registration: Registration): Promise<boolean> {
    if (this.owns(registration)) return true;
    const owner = registration.node!;
    // The UPDATE re-checks the owner's heartbeat under the row lock; a second claimer waits for the first, then
    // finds node_id changed and updates nothing. Other nodes learn the new owner from the notification.
    const { rows } = await this.pool.query(
      `WITH c AS (
         UPDATE cluster_registrations r SET node_id = $3, txid = pg_current_xact_id()
         WHERE r.account_id = $1 AND r.device_id = $2 AND r.node_id = $4
           AND NOT EXISTS (SELECT 1 FROM cluster_nodes n
                           WHERE n.node_id = r.node_id AND n.heartbeat_at > clock_timestamp() - $5 * interval '1 millisecond')
         RETURNING 1)
       SELECT x.n FROM (SELECT count(*)::int AS n FROM c) x, LATERAL (SELECT pg_notify('cluster_registrations', $3::text) WHERE x.n > 0) y`,
      [registration.accountId, registration.deviceId, this.nodes.nodeId, owner, this.nodes.timeoutMs],
    );
    const rowCount = rows.length;
    if (rowCount !== 1) return false;
    this.adopt(registration);
    return true;
  }
}
