import express, { type Request } from 'express';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceDoc } from '../../src/domain/types.js';
import { summaryRow } from '../../src/devices/device-views.js';
import { sendSuccess } from '../../src/http/envelope.js';
import { encodeStartKey } from '../../src/listing/start-key.js';
import { pageRequest, type PageRequest } from '../../src/listing/paginate.js';
import { buildFilter } from '../../src/listing/query-filters.js';
import { newId, type Store } from '../../src/store/store.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A device document for store.save (the store stamps _rev and the times). */
function deviceDoc(accountId: string, fields: Record<string, unknown>, id = newId()): DeviceDoc {
  return { id, _rev: '', pvt_type: 'device', pvt_account_id: accountId, pvt_created: 0, pvt_modified: 0, ...fields } as DeviceDoc;
}

async function seed(store: Store, docs: DeviceDoc[]): Promise<void> {
  for (let i = 0; i < docs.length; i += 500) await Promise.all(docs.slice(i, i + 500).map((d) => store.save(d)));
}

/** The listing as it was built before slicing (one walk, one JSON.stringify): the reference answers. */
function oneWalk(ids: Iterable<string>, page: PageRequest, rowFor: (id: string) => unknown) {
  const rows: unknown[] = [];
  let nextKey: string | undefined;
  for (const id of ids) {
    const row = rowFor(id);
    if (row === undefined) continue;
    if (page.pageSize !== undefined && rows.length === page.pageSize) {
      nextKey = id;
      break;
    }
    rows.push(row);
  }
  if (page.pageSize === undefined) return { rows, envelope: {} };
  const envelope: Record<string, unknown> = { page_size: rows.length };
  if (page.startKey !== undefined) envelope.start_key = encodeStartKey(page.startKey);
  if (nextKey !== undefined) envelope.next_start_key = encodeStartKey(nextKey);
  return { rows, envelope };
}

function referenceApp(store: Store, accountId: string, token: string, requestId: string) {
  const app = express();
  app.set('etag', false);
  app.set('query parser', 'extended');
  app.get('/devices', (req: Request, res) => {
    (req as Request & { kazoo?: unknown }).kazoo = { requestId, authToken: token };
    const query = req.query as Record<string, unknown>;
    const page = pageRequest(query);
    const filter = buildFilter(query);
    const { rows, envelope } = oneWalk(store.deviceIdsFrom(accountId, page.startKey, page.descending), page, (id) => {
      const device = store.getDevice(accountId, id);
      return device && (!filter || filter(device)) ? summaryRow(device) : undefined;
    });
    const revision = rows.length ? createHash('md5').update(JSON.stringify(rows)).digest('hex') : undefined;
    sendSuccess(req, res, rows, { extra: envelope, revision });
  });
  return app;
}

/** Counts the store's device reads (the listing reads each device it examines once). */
function countReads(store: Store, onRead?: (n: number) => void): { count(): number; stop(): void } {
  let n = 0;
  const original = store.getDevice.bind(store);
  store.getDevice = (accountId: string, id: string) => {
    n++;
    onRead?.(n);
    return original(accountId, id);
  };
  return {
    count: () => n,
    stop: () => {
      delete (store as { getDevice?: unknown }).getDevice;
    },
  };
}

const normalise = (text: string) => text.replace(/"timestamp":"[^"]*"/, '"timestamp":"T"');

describe('device listings in slices give the one-piece answers (indexed and scanned alike)', () => {
  let t: TestServer;
  let A: string;
  let reference: express.Express;
  const ids: string[] = [];
  const REQUEST_ID = 'listing-compare-1';
  const users = [newId(), newId()];

  beforeAll(async () => {
    // 7 documents a slice: every answer of more than 7 rows is streamed and every walk takes several slices.
    t = await startTestServer({ env: { LISTING_SLICE_DOCS: '7' } });
    A = t.master.accountId;
    const docs: DeviceDoc[] = [];
    for (let i = 0; i < 300; i++) {
      const ipAuth = i % 11 === 0;
      const fields: Record<string, unknown> = {
        name: i % 13 === 0 ? `Café "quoted", ${i}` : `phone ${i}`,
        enabled: i % 3 !== 0,
        ...(i % 2 === 0 ? { mac_address: (0x0015650000 + i).toString(16).padStart(12, '0') } : {}),
        ...(i % 5 === 0 ? { owner_id: users[0] } : i % 7 === 0 ? { owner_id: users[1] } : {}),
        sip: ipAuth ? { method: 'ip', ip: `10.0.${i >> 8}.${i & 255}`, username: i === 33 ? 'Shared' : `ipuser${i}` } : { method: 'password', username: i === 34 ? 'Shared' : `user${i}`, password: `pw${i}` },
        ...(i % 17 === 0 ? { flags: ['a', 'b'], device_type: 'softphone', call_recording: { any: { enabled: true } } } : {}),
      };
      docs.push(deviceDoc(A, fields));
    }
    await seed(t.server.store, docs);
    ids.push(...docs.map((d) => d.id).sort());
    reference = referenceApp(t.server.store, A, t.master.token, REQUEST_ID);
  });
  afterAll(() => t.close());

  const macOf = (i: number) => (0x0015650000 + i).toString(16).padStart(12, '0');
  const queries = () => [
    '',
    '?page_size=13',
    `?page_size=13&start_key=${encodeStartKey(ids[20]!)}`,
    `?page_size=9&descending=true&start_key=${ids[200]}`,
    '?paginate=false',
    '?paginate=false&descending=true',
    '?page_size=1000',
    `?filter_mac_address=${macOf(42)}`,
    `?filter_mac_address=${macOf(42)}&descending=true&start_key=${ids[0]}`,
    `?filter_mac_address=${macOf(43)}`,
    '?filter_mac_address=ffffffffffff',
    `?filter_mac_address=${encodeURIComponent(JSON.stringify([macOf(2), macOf(4), 'nope']))}`,
    '?filter_mac_address=&page_size=20',
    `?filter_mac_address=${macOf(10)}&filter_enabled=false`,
    `?filter_owner_id=${users[0]}`,
    `?filter_owner_id=${users[0]}&page_size=5`,
    `?filter_owner_id=${users[1]}&paginate=false&descending=true`,
    `?filter_owner_id=${users[0]}&filter_owner_id=${users[1]}`,
    `?filter_not_owner_id=${users[0]}&paginate=false`,
    '?filter_sip.username=Shared',
    '?filter_sip.username=shared',
    '?filter_sip.username=user50&filter_mac_address=' + macOf(50),
    '?has_key=owner_id&paginate=false',
    '?has_key=nothing_has_this',
    '?key_missing=mac_address&page_size=30',
    '?has_value=flags',
    '?created_from=1&paginate=false',
    '?created_from=x',
    '?filter_enabled=true&page_size=100',
    '?filter_name=phone%201',
  ];

  it('answers every paging and filter query with the same bytes and headers as the one-piece builder', async () => {
    const q = queries();
    for (let n = 0; n < q.length; n++) {
      const query = q[n]!;
      const ours = await t.http().get(`/v2/accounts/${A}/devices${query}`).set({ 'X-Auth-Token': t.master.token, 'X-Request-ID': REQUEST_ID });
      const theirs = await request(reference).get(`/devices${query}`);
      expect(ours.status, query).toBe(200);
      expect(normalise(ours.text), query).toBe(normalise(theirs.text));
      for (const header of ['content-type', 'etag', 'content-length', 'x-request-id']) expect(ours.headers[header], `${query} ${header}`).toBe(theirs.headers[header]);
    }
  });

  it('streams CSV (Accept: text/csv and ?accept=csv) with the same text', async () => {
    for (const [query, accept] of [['?paginate=false', 'text/csv'], ['?paginate=false&accept=csv&descending=true', undefined], ['?has_key=owner_id&paginate=false', 'application/json, text/csv']] as const) {
      const ours = t.http().get(`/v2/accounts/${A}/devices${query}`).set({ 'X-Auth-Token': t.master.token });
      const theirs = request(reference).get(`/devices${query}`);
      if (accept) {
        ours.set('Accept', accept);
        theirs.set('Accept', accept);
      }
      const [a, b] = [await ours.buffer(true), await theirs.buffer(true)];
      expect(a.status).toBe(200);
      expect(a.headers['content-type'], query).toBe(b.headers['content-type']);
      expect(a.headers['content-disposition'], query).toBe(b.headers['content-disposition']);
      expect(a.text.length, query).toBeGreaterThan(1000);
      expect(a.text, query).toBe(b.text);
    }
  });

  it('reads only the indexed candidates for filter_mac_address, filter_owner_id and filter_sip.username', async () => {
    const cases: Array<[string, number]> = [
      [`?filter_mac_address=${macOf(42)}`, 1],
      ['?filter_mac_address=ffffffffffff', 0],
      [`?filter_owner_id=${users[1]}`, ids.length], // counted below
      ['?filter_sip.username=Shared', 2],
    ];
    cases[2]![1] = ids.filter((id) => t.server.store.getDevice(A, id)?.owner_id === users[1]).length;
    for (const [query, expected] of cases) {
      const reads = countReads(t.server.store);
      try {
        const res = await t.http().get(`/v2/accounts/${A}/devices${query}`).set({ 'X-Auth-Token': t.master.token });
        expect(res.status).toBe(200);
        expect(res.body.data).toHaveLength(expected);
        // The scan reads all 300: here the candidates, plus the MAC index resolving its device.
        expect(reads.count(), query).toBeLessThanOrEqual(expected + 1);
      } finally {
        reads.stop();
      }
    }
  });

  it('keeps the owner and username indexes in step with writes', async () => {
    const store = t.server.store;
    const id = ids[5]!;
    const before = store.getDevice(A, id)!;
    const newOwner = newId();
    await store.save({ ...structuredClone(before), owner_id: newOwner, sip: { method: 'password', username: 'Renamed', password: 'x' } } as DeviceDoc);
    const byOwner = await t.http().get(`/v2/accounts/${A}/devices?filter_owner_id=${newOwner}`).set({ 'X-Auth-Token': t.master.token });
    expect(byOwner.body.data.map((r: { id: string }) => r.id)).toEqual([id]);
    const byName = await t.http().get(`/v2/accounts/${A}/devices?filter_sip.username=Renamed`).set({ 'X-Auth-Token': t.master.token });
    expect(byName.body.data.map((r: { id: string }) => r.id)).toEqual([id]);
    await store.remove(store.getDevice(A, id)!);
    const gone = await t.http().get(`/v2/accounts/${A}/devices?filter_owner_id=${newOwner}`).set({ 'X-Auth-Token': t.master.token });
    expect(gone.body.data).toEqual([]);
    ids.splice(ids.indexOf(id), 1);
  });
});

describe('a long listing shares the loop with phones and stops when its client leaves', () => {
  let t: TestServer;
  let A: string;
  const COUNT = 3000;
  const PHONE_MAC = '001565abcdef';

  beforeAll(async () => {
    const { productionParts } = await import('../../src/parts.js');
    t = await startTestServer({ env: { LISTING_SLICE_DOCS: '25' }, parts: { provisioning: productionParts.provisioning } });
    A = t.master.accountId;
    const docs: DeviceDoc[] = [deviceDoc(A, { name: 'the phone', mac_address: PHONE_MAC, sip: { username: 'phone', password: 'phone-secret-1' } })];
    for (let i = 1; i < COUNT; i++) docs.push(deviceDoc(A, { name: `phone ${i}`, sip: { username: `u${i}`, password: `pw${i}` } }));
    await seed(t.server.store, docs);
  });
  afterAll(() => t.close());

  const phoneFetch = () => fetch(`${t.url}/provision/${PHONE_MAC}.cfg`).then(async (r) => ({ status: r.status, body: await r.text() }));
  const listing = (query: string) =>
    http.get(`${t.url}/v2/accounts/${A}/devices${query}`, { headers: { 'X-Auth-Token': t.master.token } });

  it('answers a phone fetch issued after paginate=false started before the listing has read its devices', async () => {
    expect((await phoneFetch()).status).toBe(200); // first render out of the way
    let phoneAnsweredAt: number | undefined;
    let fired = false;
    const reads = countReads(t.server.store, () => {
      if (fired) return;
      fired = true;
      void phoneFetch().then((r) => {
        expect(r.status).toBe(200);
        phoneAnsweredAt = reads.count();
      });
    });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        listing('?paginate=false').on('response', (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text)).on('error', reject);
        }).on('error', reject);
      });
      expect(JSON.parse(body).data).toHaveLength(COUNT);
      expect(phoneAnsweredAt).toBeDefined();
      // In one piece, every device is read before the phone's request is even accepted.
      expect(phoneAnsweredAt!).toBeLessThan(COUNT);
    } finally {
      reads.stop();
    }
  });

  it('answers a phone while a filter matching nothing walks every device', async () => {
    let phoneAnsweredAt: number | undefined;
    let fired = false;
    const reads = countReads(t.server.store, () => {
      if (fired) return;
      fired = true;
      void phoneFetch().then(() => (phoneAnsweredAt = reads.count()));
    });
    try {
      const res = await t.http().get(`/v2/accounts/${A}/devices?has_key=no_such_key`).set({ 'X-Auth-Token': t.master.token });
      expect(res.body.data).toEqual([]);
      expect(reads.count()).toBeGreaterThanOrEqual(COUNT); // every device, and the phone's own
      expect(phoneAnsweredAt!).toBeLessThan(COUNT);
    } finally {
      reads.stop();
    }
  });

  it('stops reading when the client disconnects mid-listing', async () => {
    let req: http.ClientRequest | undefined;
    const reads = countReads(t.server.store, (n) => {
      if (n === 30) req?.destroy();
    });
    try {
      req = listing('?paginate=false');
      req.on('error', () => undefined);
      // Turn the loop (a count of turns, not a wait for time) until the reads stop growing.
      let last = -1;
      let still = 0;
      while (still < 200) {
        await nextTurn();
        if (reads.count() === last) still++;
        else [last, still] = [reads.count(), 0];
      }
      expect(reads.count()).toBeGreaterThanOrEqual(30);
      expect(reads.count()).toBeLessThan(COUNT);
    } finally {
      reads.stop();
    }
  });

  it('stays one valid answer when writes land mid-listing: no row twice, in order, revision of the rows sent', async () => {
    const store = t.server.store;
    const behind = deviceDoc(A, { name: 'behind the cursor' }, '0'.repeat(32));
    const ahead = deviceDoc(A, { name: 'ahead of the cursor' }, 'f'.repeat(32));
    const victim = [...store.deviceIdsFrom(A, undefined)].at(-1)!;
    const writes: Promise<unknown>[] = [];
    const reads = countReads(store, (n) => {
      if (n !== 40) return;
      writes.push(store.save(behind), store.save(ahead), store.remove(store.getDevice(A, victim)!));
    });
    try {
      const res = await t.http().get(`/v2/accounts/${A}/devices?paginate=false`).set({ 'X-Auth-Token': t.master.token });
      await Promise.all(writes);
      const rows = res.body.data as Array<{ id: string }>;
      const listed = rows.map((r) => r.id);
      expect(new Set(listed).size).toBe(listed.length);
      expect(listed).toEqual([...listed].sort());
      expect(listed).not.toContain(behind.id);
      expect(Math.abs(listed.length - COUNT)).toBeLessThanOrEqual(1);
      const revision = createHash('md5').update(JSON.stringify(rows)).digest('hex');
      expect(res.body.revision).toBe(revision);
      expect(res.headers.etag).toBe(`"${revision}"`);
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    } finally {
      reads.stop();
    }
  });
});
