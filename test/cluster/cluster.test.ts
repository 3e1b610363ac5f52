import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import dgram from 'node:dgram';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase } from '../helpers/postgres.js';
import { spawnServer, spawnTs, type Spawned } from '../helpers/process.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { sipp } from '../sip/helpers/sipp.js';

/**
 * The cluster as it runs in production, on loopback: one PostgreSQL (the run's, a database of its own), two real
 * src/main.ts processes on DATABASE_URL with their embedded SIP on 127.0.0.61 and 127.0.0.62, and nginx in
 * front. Phones are a SIPp UAC (REGISTER) plus a UDP socket at its Contact that answers and counts NOTIFYs.
 * Every wait is a bounded number of attempts; nothing asserts on elapsed time.
 */
type Node = Spawned & { port: number; sip: { address: string; port: number }; id: string };

const YEALINK_UA = (mac: string) => `Yealink SIP-T46S 66.86.0.15 ${mac.match(/../g)!.join(':')}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const dirs: string[] = [];
let dbUrl: string;
let a: Node;
let b: Node;
let lb: Nginx;
let account: string;
let realm: string;
let token: string;

async function freeUdpPort(address: string): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

interface Reply {
  status: number;
  body: any;
  text: string;
}

/** One HTTP request with keep-alive (1,000 of them at once must not open 1,000 sockets). */
function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${url}`, { method, agent, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...(token ? { 'x-auth-token': token } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

const nodeUrl = (n: Node) => `http://127.0.0.1:${n.port}`;

/** Retries `probe` until it holds, a bounded number of times. */
async function eventually<T>(probe: () => Promise<T | undefined>, attempts = 200, pauseMs = 50): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    const value = await probe().catch((err: unknown) => {
      last = err;
      return undefined;
    });
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`condition not met after ${attempts} attempts${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

async function startNode(id: string, dataDir: string, sipAddress: string, secretsKey: string): Promise<Node> {
  const sipPort = await freeUdpPort(sipAddress);
  const node = await spawnServer(dataDir, {
    DATABASE_URL: dbUrl,
    NODE_ID: id,
    SECRETS_KEY_FILE: secretsKey,
    SIP_BACKEND: 'embedded',
    SIP_ADDRESS: sipAddress,
    SIP_PORT: String(sipPort),
    SIP_MIN_EXPIRES: '1',
    LOG_LEVEL: 'debug',
    TRUST_PROXY: '127.0.0.1',
  });
  return { ...node, sip: { address: sipAddress, port: sipPort }, id };
}

beforeAll(async () => {
  dbUrl = await createDatabase(inject('postgresUrl'));
  const root = mkdtempSync(path.join(os.tmpdir(), 'prov-cluster-'));
  dirs.push(root);
  const [dirA, dirB] = [path.join(root, 'a'), path.join(root, 'b')];
  const secretsKey = path.join(root, 'secrets.key');
  a = await startNode('node-a', dirA, '127.0.0.61', secretsKey);
  // No token key copied: the nodes share the cluster's, so the token below (issued by either) is good on both.
  b = await startNode('node-b', dirB, '127.0.0.62', secretsKey);
  lb = await startNginx({ upstreams: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
  const boot = spawnTs('src/cli.ts', ['create-account', 'Cluster', 'cluster.test', 'admin', 'cluster-pass'], { DATA_DIR: dirA, DATABASE_URL: dbUrl, SECRETS_KEY_FILE: secretsKey });
  expect(await boot.exited, boot.stderr()).toBe(0);
  const created = JSON.parse(boot.stdout());
  account = created.account_id;
  realm = created.realm;
  const auth = await call(lb.url, 'PUT', '/v2/api_auth', { data: { api_key: created.api_key } });
  expect(auth.status, auth.text).toBe(201);
  token = auth.body.auth_token;
}, 60_000);

afterAll(async () => {
  await lb?.stop();
  for (const n of [a, b]) {
    if (n && n.child.exitCode === null && n.child.signalCode === null) {
      n.child.kill('SIGTERM');
      await n.exited;
    }
  }
  agent.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const createDevice = (base: string, data: Record<string, unknown>) => call(base, 'PUT', `/v2/accounts/${account}/devices`, { data });

describe('two nodes on one PostgreSQL behind nginx', () => {
  it('a write through one node is served to a phone through the other, and its last fetch shows on both', async () => {
    const mac = '001565c10001';
    const made = await createDevice(nodeUrl(a), { name: 'Before', mac_address: mac, sip: { username: 'c1', password: 'pw-c1' } });
    expect(made.status, made.text).toBe(201);
    const id = made.body.data.id;
    const patched = await call(nodeUrl(a), 'PATCH', `/v2/accounts/${account}/devices/${id}`, { data: { name: 'After Patch' } });
    expect(patched.status, patched.text).toBe(200);
    const served = await eventually(async () => {
      const res = await call(nodeUrl(b), 'GET', `/provision/${mac}.cfg`, undefined, { 'user-agent': YEALINK_UA(mac), 'x-auth-token': '' });
      return res.status === 200 && res.text.includes('account.1.display_name = After Patch') ? res : undefined;
    });
    expect(served.text).toContain('account.1.user_name = c1');
    // The fetch was served by B; A's answer for the device shows it as well.
    const seen = await eventually(async () => {
      const res = await call(nodeUrl(a), 'GET', `/v2/accounts/${account}/devices/${id}`);
      return res.body?.data?._read_only?.provisioning?.last_fetch ? res.body.data._read_only.provisioning.last_fetch : undefined;
    });
    expect(seen).toMatchObject({ file: `${mac}.cfg`, user_agent: YEALINK_UA(mac) });
  });

  it('the same MAC created on both nodes at once gives exactly one 201', async () => {
    for (let i = 0; i < 10; i++) {
      const mac = `001565c2${i.toString(16).padStart(4, '0')}`;
      const answers = await Promise.all([
        createDevice(nodeUrl(a), { name: `race a ${i}`, mac_address: mac }),
        createDevice(nodeUrl(b), { name: `race b ${i}`, mac_address: mac }),
      ]);
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201), answers.map((r) => r.text).join('\n')).toHaveLength(1);
      expect(statuses.every((s) => s === 201 || (s >= 400 && s < 500))).toBe(true);
    }
  });

  it('1,000 concurrent PATCHes spread over both nodes all survive', async () => {
    const made = await createDevice(lb.url, { name: 'patched a thousand times' });
    expect(made.status, made.text).toBe(201);
    const id = made.body.data.id;
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => call(i % 2 ? nodeUrl(a) : nodeUrl(b), 'PATCH', `/v2/accounts/${account}/devices/${id}`, { data: { [`k${i}`]: i } })),
    );
    const failed = answers.filter((r) => r.status !== 200);
    expect({ failed: failed.length, first: failed[0]?.body?.message ?? failed[0]?.body?.data }).toEqual({ failed: 0, first: undefined });
    for (const node of [a, b]) {
      const doc = await eventually(async () => {
        const res = await call(nodeUrl(node), 'GET', `/v2/accounts/${account}/devices/${id}`);
        return Object.keys(res.body?.data ?? {}).filter((k) => /^k\d+$/.test(k)).length === 1000 ? res.body.data : undefined;
      });
      for (let i = 0; i < 1000; i++) expect(doc[`k${i}`]).toBe(i);
    }
  }, 120_000);

  it('a config-changing PATCH gives exactly one NOTIFY, from the node the phone registered with', async () => {
    const mac = '001565c30001';
    const made = await createDevice(nodeUrl(a), { name: 'Notify Me', mac_address: mac, sip: { username: 'c3', password: 'pw-c3' } });
    expect(made.status, made.text).toBe(201);
    const id = made.body.data.id;
    // The phone: a UDP socket at its Contact that answers every NOTIFY 200 and counts them per Call-ID.
    const phone = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => phone.bind(0, '127.0.0.63', resolve));
    const contactPort = phone.address().port;
    const notifies = new Map<string, { event: string; from: string }>();
    phone.on('message', (msg, rinfo) => {
      const text = msg.toString('utf8');
      if (!text.startsWith('NOTIFY ')) return;
      const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(text)?.[1]?.trim() ?? '';
      notifies.set(header('Call-ID'), { event: header('Event'), from: `${rinfo.address}:${rinfo.port}` });
      const reply = ['SIP/2.0 200 OK', ...['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(h)}`), 'Content-Length: 0', '', ''].join('\r\n');
      phone.send(reply, rinfo.port, rinfo.address);
    });
    try {
      const registered = await sipp({
        scenario: 'uac-register-digest.xml',
        remote: `${a.sip.address}:${a.sip.port}`,
        ip: '127.0.0.63',
        port: await freeUdpPort('127.0.0.63'),
        service: 'c3',
        auth: { user: 'c3', pass: 'pw-c3' },
        keys: { realm, contact_port: contactPort, expires: 300 },
      }).done;
      expect(registered.code, registered.stderr).toBe(0);
      // Registered with A; B lists it too, owned by A.
      await eventually(async () => {
        const res = await call(nodeUrl(b), 'GET', `/v2/accounts/${account}/devices/status`);
        return (res.body?.data as Array<{ device_id: string }> | undefined)?.some((d) => d.device_id === id) ? true : undefined;
      });
      const onB = await call(nodeUrl(b), 'GET', `/v2/accounts/${account}/devices/${id}`);
      expect(onB.body.data._read_only.sip_registration).toMatchObject({ registered: true, node: 'node-a', contact: `sip:c3@127.0.0.63:${contactPort}` });
      // A has its baseline of what the phone has once it registered: wait until A's fingerprint is recorded, by
      // the only outward sign there is, its own answer for the device, then change the files through B.
      const changed = await call(nodeUrl(b), 'PATCH', `/v2/accounts/${account}/devices/${id}`, { data: { name: 'Notified Once' } });
      expect(changed.status, changed.text).toBe(200);
      // B saw the change first (its own write) and left the phone to its owner; A sent the NOTIFY.
      await eventually(async () => (b.stdout().includes(`"device_id":"${id}"`) && /resync: left to its owner[^\n]*node-a/.test(b.stdout()) ? true : undefined));
      await eventually(async () => (notifies.size >= 1 ? true : undefined)).catch((err) => {
        throw new Error(`${err.message}; node A: ${a.stdout().split('\n').filter((l) => /resync|notify|device.changed|change feed/i.test(l)).slice(-8).join(' | ')}`);
      });
      await eventually(async () => (a.stdout().split('\n').some((l) => l.includes('resync: check-sync') && l.includes(id)) ? true : undefined));
      expect([...notifies.values()]).toEqual([{ event: 'check-sync;reboot=false', from: `${a.sip.address}:${a.sip.port}` }]);
      expect(b.stdout().split('\n').filter((l) => l.includes('resync: check-sync') && l.includes(id))).toEqual([]);
      // A device template put through B changes what A serves the phone (templates are shared): one more NOTIFY, from A.
      const template = '#!version:1.0.0.1\n## put through node b\naccount.1.display_name = {{device.name}}\n';
      const put = await call(nodeUrl(b), 'PUT', `/v2/accounts/${account}/devices/${id}/provisioning/templates/yealink/mac.cfg`, { data: { template } });
      expect(put.status, put.text).toBe(200);
      await eventually(async () => (notifies.size >= 2 ? true : undefined)).catch((err) => {
        throw new Error(`${err.message}; node A: ${a.stdout().split('\n').filter((l) => /resync|template/i.test(l)).slice(-6).join(' | ')}`);
      });
      const checkSyncs = (n: Node) => n.stdout().split('\n').filter((l) => l.includes('resync: check-sync') && l.includes(id));
      await eventually(async () => (checkSyncs(a).length >= 2 ? true : undefined));
      expect([...notifies.values()]).toEqual(Array(2).fill({ event: 'check-sync;reboot=false', from: `${a.sip.address}:${a.sip.port}` }));
      expect(checkSyncs(b)).toEqual([]);
    } finally {
      phone.close();
    }
  });

  it('SIGKILL of one node under writes loses no acknowledged write, and the other keeps serving', async () => {
    const acknowledged: string[] = [];
    let stop = false;
    let enough!: () => void;
    const enoughAcknowledged = new Promise<void>((resolve) => (enough = resolve));
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const res = await createDevice(lb.url, { name: `kill w${w} ${i}` }).catch(() => undefined);
        if (res?.status === 201) acknowledged.push(res.body.data.id);
        if (acknowledged.length >= 60) enough();
      }
    });
    await enoughAcknowledged;
    b.child.kill('SIGKILL');
    await b.exited;
    // Writes go on through nginx (to A only now) for a while after the kill.
    const atKill = acknowledged.length;
    await eventually(async () => (acknowledged.length >= atKill + 40 ? true : undefined), 400);
    stop = true;
    await Promise.all(writers);
    const listed = await call(nodeUrl(a), 'GET', `/v2/accounts/${account}/devices?paginate=false`);
    expect(listed.status).toBe(200);
    const present = new Set((listed.body.data as Array<{ id: string }>).map((d) => d.id));
    const lost = acknowledged.filter((id) => !present.has(id));
    expect(lost).toEqual([]);
  }, 120_000);
});
