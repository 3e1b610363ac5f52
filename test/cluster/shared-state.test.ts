import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createDatabase } from '../helpers/postgres.js';
import { Listener } from '../../src/cluster/listener.js';
import { NodeRegistry } from '../../src/cluster/nodes.js';
import { ClusterOwnership } from '../../src/cluster/registration-ownership.js';
import { SharedRegistrations } from '../../src/cluster/registrations-postgres.js';
import { ensureClusterSchema } from '../../src/cluster/schema.js';
import { SharedFetchLog } from '../../src/provision/fetch-log-postgres.js';
import { DomainEvents } from '../../src/domain/events.js';
import { createResyncCoordinator, type ResyncCoordinator } from '../../src/resync/index.js';
import { RegistrationTable } from '../../src/sip/registry.js';
import type { NotifyResult, QuickCallResult, Registration, SipService } from '../../src/sip/service.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { quietLog, sipTestConfig } from '../sip/helpers/config.js';

/**
 * Two nodes in one process on one real PostgreSQL database: each with its own binding table, listener,
 * heartbeat, ownership and last-fetch log, exactly as two src/main.ts processes build them (src/cluster/index.ts).
 * The end-to-end version with real processes, nginx and SIP is cluster.test.ts.
 */
const ACC = 'acc1';
let url: string;
let pool: pg.Pool;
const directory = new MemoryDirectory();

interface Node {
  id: string;
  table: RegistrationTable;
  listener: Listener;
  nodes: NodeRegistry;
  shared: SharedRegistrations;
  ownership: ClusterOwnership;
  fetchLog: SharedFetchLog;
  events: DomainEvents;
  sent: string[];
  resync: ResyncCoordinator;
  stop(): Promise<void>;
}

async function startNode(id: string): Promise<Node> {
  const table = new RegistrationTable(directory);
  const listener = new Listener(url, quietLog);
  await listener.start();
  const nodes = new NodeRegistry(pool, id, 60_000, quietLog);
  await nodes.start();
  const shared = new SharedRegistrations({ pool, listener, table, nodeId: id, log: quietLog, flushMs: 1 });
  await shared.start();
  const ownership = new ClusterOwnership(pool, nodes, (r) => shared.adopt(r));
  const fetchLog = new SharedFetchLog({ pool, listener, nodeId: id, log: quietLog, flushMs: 5 });
  await fetchLog.load();
  const events = new DomainEvents();
  const sent: string[] = [];
  const sip: SipService & { onRegistration: RegistrationTable['onChange'] } = {
    start: async () => undefined,
    stop: async () => undefined,
    registrations: (a) => table.list(a),
    registrationOf: (a, d) => table.get(a, d),
    notify: async (_a, d): Promise<NotifyResult> => {
      sent.push(d);
      return { sent: true, status: 200 };
    },
    quickCall: async (): Promise<QuickCallResult> => ({ callId: '', outcome: 'failed' }),
    onRegistration: (l) => table.onChange(l),
  };
  const provisioning = { fingerprint: async (_a: string, d: string) => files.get(d) ?? 'v1', checkSyncEvent: () => 'check-sync' };
  const resync = createResyncCoordinator({ config: sipTestConfig({ RESYNC_RATE: '1000' }), log: quietLog, directory, events, sip, provisioning, ownership });
  return {
    id, table, listener, nodes, shared, ownership, fetchLog, events, sent, resync,
    async stop() {
      resync.stop();
      await shared.stop();
      await fetchLog.close();
      await nodes.stop();
      await listener.stop();
    },
  };
}

const files = new Map<string, string>();
let a: Node;
let b: Node;

function binding(deviceId: string, over: Partial<Registration> = {}): Registration {
  return {
    accountId: ACC,
    deviceId,
    username: deviceId.replace('d', 'u'),
    realm: 'r.test',
    contact: `sip:${deviceId}@127.0.0.2:5070`,
    source: { address: '127.0.0.2', port: 5070 },
    expiresAt: Date.now() + 600_000,
    ...over,
  };
}

/** A REGISTER answered by `node` (what the registrar does), then the write and the other node's read. */
async function registerAt(node: Node, deviceId: string, over: Partial<Registration> = {}) {
  node.table.upsert(binding(deviceId, over));
  await node.shared.flush();
  await Promise.all([a.shared.sync(), b.shared.sync()]);
}

beforeAll(async () => {
  url = await createDatabase(inject('postgresUrl'));
  pool = new pg.Pool({ connectionString: url, max: 20 });
  await ensureClusterSchema(pool);
  directory.addAccount({ id: ACC, realm: 'r.test' });
  for (let i = 0; i < 20; i++) directory.addDevice(ACC, { id: `d${i}`, sip: { username: `u${i}`, password: 'p' } });
  a = await startNode('node-a');
  b = await startNode('node-b');
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await pool?.end();
});

describe('registrations shared through PostgreSQL', () => {
  it('a REGISTER answered by one node is listed by the other, owned by the first; an unregistration too', async () => {
    await registerAt(a, 'd1');
    const seen = b.table.get(ACC, 'd1');
    expect(seen).toMatchObject({ contact: 'sip:d1@127.0.0.2:5070', source: { address: '127.0.0.2', port: 5070 }, node: 'node-a' });
    expect(a.table.get(ACC, 'd1')?.node).toBeUndefined(); // made here
    a.table.remove(ACC, 'd1');
    await a.shared.flush();
    await b.shared.sync();
    expect(b.table.get(ACC, 'd1')).toBeUndefined();
  });

  it('of two REGISTERs of one phone through two nodes, the later one wins on both', async () => {
    await registerAt(a, 'd2');
    await registerAt(b, 'd2', { contact: 'sip:d2@127.0.0.3:5070', source: { address: '127.0.0.3', port: 5070 } });
    expect(a.table.get(ACC, 'd2')).toMatchObject({ contact: 'sip:d2@127.0.0.3:5070', node: 'node-b' });
    expect(b.table.get(ACC, 'd2')?.node).toBeUndefined();
    const { rows } = await pool.query("SELECT node_id FROM cluster_registrations WHERE device_id = 'd2'");
    expect(rows).toEqual([{ node_id: 'node-b' }]);
  });

  it('a remote binding the database no longer has is dropped after the listener reconnects', async () => {
    await registerAt(a, 'd3');
    expect(b.table.get(ACC, 'd3')).toBeDefined();
    await pool.query("DELETE FROM cluster_registrations WHERE device_id = 'd3'");
    await pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'provisioner-listen' AND datname = current_database()");
    let attempts = 0;
    while (b.table.get(ACC, 'd3') && attempts++ < 200) await new Promise((r) => setTimeout(r, 25));
    expect(b.table.get(ACC, 'd3')).toBeUndefined();
    expect(b.listener.connected).toBe(true);
  });

  it('expired rows and tombstones are pruned in bounded batches', async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `x${i}`);
    await pool.query(
      `INSERT INTO cluster_registrations (account_id, device_id, username, realm, contact, source_address, source_port, expires_at, registered_at, node_id)
       SELECT 'gone', id, '', '', '', '', 0, 0, 0, 'node-z' FROM unnest($1::text[]) id`,
      [ids],
    );
    expect(await a.shared.prune()).toBe(1000);
    expect(await b.shared.prune()).toBe(1000);
    expect(await a.shared.prune()).toBe(500);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM cluster_registrations WHERE account_id = 'gone'");
    expect(rows[0].n).toBe(0);
  });
});

describe('check-sync once in the cluster', () => {
  it('a change seen by both nodes is sent by the owner only', async () => {
    await registerAt(a, 'd5');
    files.set('d5', 'v2');
    const event = { type: 'device.changed' as const, accountId: ACC, deviceId: 'd5', before: directory.devices.get('d5'), after: directory.devices.get('d5') };
    a.events.emit(event); // the node that wrote it
    b.events.emit(event); // the other, through the change feed
    await Promise.all([a.resync.idle(), b.resync.idle()]);
    expect(a.sent.filter((d) => d === 'd5')).toEqual(['d5']);
    expect(b.sent.filter((d) => d === 'd5')).toEqual([]);
  });

  it("a gone owner's phone is taken over by exactly one node, which sends once", async () => {
    // node-c registered d6, then died: its heartbeat is an hour old (data, not waiting).
    await pool.query("INSERT INTO cluster_nodes (node_id, heartbeat_at) VALUES ('node-c', now() - interval '1 hour')");
    await pool.query(
      `INSERT INTO cluster_registrations (account_id, device_id, username, realm, contact, source_address, source_port, expires_at, registered_at, node_id)
       VALUES ($1, 'd6', 'u6', 'r.test', 'sip:d6@127.0.0.2:5070', '127.0.0.2', 5070, $2, $3, 'node-c')`,
      [ACC, Date.now() + 600_000, Date.now()],
    );
    await Promise.all([a.shared.sync(), b.shared.sync()]);
    expect(a.table.get(ACC, 'd6')?.node).toBe('node-c');
    expect(b.table.get(ACC, 'd6')?.node).toBe('node-c');
    const event = { type: 'device.changed' as const, accountId: ACC, deviceId: 'd6', before: directory.devices.get('d6'), after: directory.devices.get('d6') };
    a.events.emit(event);
    b.events.emit(event);
    await Promise.all([a.resync.idle(), b.resync.idle()]);
    const sends = [...a.sent, ...b.sent].filter((d) => d === 'd6');
    expect(sends).toEqual(['d6']);
    const winner = a.sent.includes('d6') ? 'node-a' : 'node-b';
    const { rows } = await pool.query("SELECT node_id FROM cluster_registrations WHERE device_id = 'd6'");
    expect(rows).toEqual([{ node_id: winner }]);
  });

  it('of many claims of one binding at once, exactly one wins; a live owner is never claimed', async () => {
    await pool.query(
      `INSERT INTO cluster_registrations (account_id, device_id, username, realm, contact, source_address, source_port, expires_at, registered_at, node_id)
       VALUES ($1, 'd7', 'u7', 'r.test', 'sip:d7@127.0.0.2:5070', '127.0.0.2', 5070, $2, $3, 'node-c')`,
      [ACC, Date.now() + 600_000, Date.now()],
    );
    const stale = binding('d7', { node: 'node-c' });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).ownership.claim(stale)));
    expect(results.filter(Boolean)).toHaveLength(1);
    // node-b is alive (its heartbeat is fresh): node-a may not take its phone.
    await registerAt(b, 'd8');
    expect(await a.ownership.claim(a.table.get(ACC, 'd8')!)).toBe(false);
  });
});

describe('last-fetch records shared through PostgreSQL', () => {
  it('a fetch served by one node shows on the other; updated in place; forgotten everywhere', async () => {
    a.fetchLog.record(ACC, 'd9', { time: 1_000_000, address: '10.0.0.9', user_agent: 'Yealink SIP-T46S 66.86.0.15', file: 'y000000000028.cfg', vendor: 'yealink', model: 'T46S' });
    await a.fetchLog.flush();
    await b.fetchLog.sync();
    expect(b.fetchLog.get('d9')).toEqual({ time: 1_000_000, address: '10.0.0.9', user_agent: 'Yealink SIP-T46S 66.86.0.15', file: 'y000000000028.cfg', vendor: 'yealink', model: 'T46S' });
    const held = b.fetchLog.peek('d9');
    b.fetchLog.record(ACC, 'd9', { time: 2_000_000, address: '10.0.0.9', user_agent: 'Yealink SIP-T46S 66.86.0.15', file: '001565000009.cfg', vendor: 'yealink', model: 'T46S' });
    await b.fetchLog.flush();
    await a.fetchLog.sync();
    expect(a.fetchLog.get('d9')?.file).toBe('001565000009.cfg');
    expect(b.fetchLog.peek('d9')).toBe(held); // updated in place: a kept answer's entry stays the live one
    // A deleted device's record goes from the table too.
    a.fetchLog.forget('d9');
    await a.fetchLog.flush();
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM cluster_last_fetch WHERE device_id = 'd9'");
    expect(rows[0].n).toBe(0);
  });
});
