import type pg from 'pg';
import { Listener } from './listener.js';
import type { Logger } from '../log.js';
import { SharedFetchLog } from '../provision/fetch-log-postgres.js';
import type { RegistrationTable } from '../sip/registry.js';
import { NodeRegistry } from './nodes.js';
import { ClusterOwnership, type RegistrationOwnership } from './registration-ownership.js';
import { SharedRegistrations } from './registrations-postgres.js';
import { ensureClusterSchema } from './schema.js';
import { sharedTokenKey, SharedRevocations } from './tokens-postgres.js';
import { SharedTemplateOverrides, SharedUploads } from './files-postgres.js';
import type { Revocations } from '../auth/revocation-list.js';
import type { SecretBox } from '../store/secret-box.js';

export type { RegistrationOwnership } from './registration-ownership.js';

/**
 * What a node shares with the other nodes besides the documents (DATABASE_URL set): its heartbeat, the SIP
 * registrations, the last-fetch records and the API token key and revocations, and the rule that only a binding's
 * owner sends its check-sync.
 * Built once per process by src/server.ts on the pool the store uses; the SIP and provisioning parts plug their
 * in-memory tables into it. Without DATABASE_URL none of this exists and nothing changes.
 */
export interface Cluster {
  readonly nodeId: string;
  readonly nodes: NodeRegistry;
  readonly ownership: RegistrationOwnership;
  /** Mirrors a registrar's binding table through PostgreSQL (one table per process). */
  shareRegistrations(table: RegistrationTable): Promise<SharedRegistrations>;
  /** The last-fetch log kept in PostgreSQL (load() it as the file one). */
  fetchLog(): SharedFetchLog;
  /** Where template overrides are kept for every node (TemplateStore's storage). */
  templateOverrides(): SharedTemplateOverrides;
  /** Where phone uploads are kept for every node (UploadStore's storage); `maxBytes` bounds one upload. */
  uploads(maxBytes: number): SharedUploads;
  /** The API token signing key and revocation list every node shares (TokenServiceOptions.shared). */
  tokens(box: Pick<SecretBox, 'seal' | 'open'>, nowSeconds: () => number, maxRevoked: number): Promise<{ key: Buffer; revoked: Revocations }>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  pool: pg.Pool;
  /** For the LISTEN connection (a pooled one cannot stay listening). */
  databaseUrl: string;
  nodeId: string;
  nodeTimeoutMs: number;
  log: Logger;
  /** host:port of this node's SIP socket, shown in cluster_nodes. */
  sip?: string;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  await ensureClusterSchema(o.pool);
  const listener = new Listener(o.databaseUrl, o.log);
  await listener.start();
  const nodes = new NodeRegistry(o.pool, o.nodeId, o.nodeTimeoutMs, o.log, o.sip);
  await nodes.start();
  let shared: SharedRegistrations | undefined;
  let revocations: SharedRevocations | undefined;
  const followers: Array<{ stop(): Promise<void> }> = [];
  // A claimed binding is adopted by the shared registrations, which exist once SIP has started.
  const ownership = new ClusterOwnership(o.pool, nodes, (r) => shared?.adopt(r));
  return {
    nodeId: o.nodeId,
    nodes,
    ownership,
    async shareRegistrations(table) {
      if (shared) throw new Error('one registration table per process');
      const mirror = new SharedRegistrations({ pool: o.pool, listener, table, nodeId: o.nodeId, log: o.log });
      shared = mirror;
      await mirror.start();
      return mirror;
    },
    fetchLog() {
      return new SharedFetchLog({ pool: o.pool, listener, nodeId: o.nodeId, log: o.log });
    },
    templateOverrides() {
      const storage = new SharedTemplateOverrides({ pool: o.pool, listener, nodeId: o.nodeId, log: o.log });
      followers.push(storage);
      return storage;
    },
    uploads(maxBytes) {
      const storage = new SharedUploads({ pool: o.pool, listener, nodeId: o.nodeId, log: o.log, maxBytes });
      followers.push(storage);
      return storage;
    },
    async tokens(box, nowSeconds, maxRevoked) {
      if (revocations) throw new Error('one token service per process');
      const key = await sharedTokenKey(o.pool, box);
      const revoked = new SharedRevocations({ pool: o.pool, listener, nodeId: o.nodeId, log: o.log, nowSeconds, max: maxRevoked });
      revocations = revoked;
      await revoked.start();
      return { key, revoked };
    },
    async close() {
      await revocations?.stop();
      for (const f of followers.splice(0)) await f.stop();
      await shared?.stop();
      await nodes.stop();
      await listener.stop();
    },
  };
}
