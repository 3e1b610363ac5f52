import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir } from '../helpers/server.js';
import { heldDisk } from '../helpers/held-disk.js';
import { DomainEvents } from '../../src/domain/events.js';
import { DatastoreError, DEVICE_SHARDS, Store } from '../../src/store/store.js';
import { createAccount } from '../../src/accounts/account-service.js';
import { prepareDevice } from '../../src/devices/device-rules.js';
import type { AccountDoc, DeviceDoc } from '../../src/domain/types.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A store on its own DATA_DIR, with one account, whose disk the test holds at will. */
async function storeWithAccount() {
  const dataDir = await tempDir('prov-refusal-');
  dirs.push(dataDir);
  const disk = heldDisk();
  const store = await Store.open(dataDir, new DomainEvents(), { writeFile: disk.writeFile });
  const account = await createAccount(store, { name: 'Acme', realm: 'acme.test' });
  return { dataDir, disk, store, account, reopen: () => Store.open(dataDir, new DomainEvents()) };
}

const shardOf = (id: string) => createHash('md5').update(id).digest().readUInt16BE(0) % DEVICE_SHARDS;

/** Two device ids that land in the same shard file (so their writes coalesce). */
function idsInOneShard(): [string, string] {
  const first = 'dev-a';
  for (let i = 0; ; i++) if (shardOf(`dev-b-${i}`) === shardOf(first)) return [first, `dev-b-${i}`];
}

const device = (account: AccountDoc, id: string, fields: Partial<DeviceDoc>): DeviceDoc =>
  ({ id, pvt_type: 'device', pvt_account_id: account.id, name: id, ...fields }) as DeviceDoc;

describe('a write the disk refuses never reaches it later', () => {
  it('a refused save is absent after reopen even though the next write to its shard succeeded', async () => {
    const { disk, store, account, reopen } = await storeWithAccount();
    const [a, b] = idsInOneShard();
    await store.save(device(account, a, { name: 'A0' }));
    disk.hold();
    const refused = store.save(device(account, a, { name: 'A1-refused' }));
    const first = await disk.next();
    const other = store.save(device(account, b, { name: 'B' })); // coalesced behind the write in flight
    first.refuse('ENOSPC');
    await expect(refused).rejects.toBeInstanceOf(DatastoreError);
    (await disk.next()).land();
    await other;
    expect(store.getDevice(account.id, a)?.name).toBe('A0');
    const again = await reopen();
    expect(again.getDevice(account.id, a)?.name).toBe('A0');
    expect(again.getDevice(account.id, b)?.name).toBe('B');
  });

  it('readers see the old revision while a write is in flight, and the new one once it is durable', async () => {
    const { disk, store, account } = await storeWithAccount();
    const before = await store.save(device(account, 'd1', { name: 'old', mac_address: '0004f2000001' }));
    disk.hold();
    const saving = store.save(device(account, 'd1', { name: 'new', mac_address: '0004f2000002' }));
    const write = await disk.next();
    expect(store.getDevice(account.id, 'd1')?._rev).toBe(before._rev);
    expect(store.getDevice(account.id, 'd1')?.name).toBe('old');
    expect(store.findDeviceByMac('0004f2000002')).toBeUndefined();
    expect(store.findDeviceByMac('0004f2000001')?.device.name).toBe('old');
    expect(store.listDevices(account.id).map((d) => d.name)).toEqual(['old']);
    await write.land();
    const saved = await saving;
    expect(store.getDevice(account.id, 'd1')?._rev).toBe(saved._rev);
    expect(store.findDeviceByMac('0004f2000002')?.device.name).toBe('new');
    expect(store.findDeviceByMac('0004f2000001')).toBeUndefined();
  });

  it('a change built on a refused one is refused with it, and neither is on disk after reopen', async () => {
    const { disk, store, account, reopen } = await storeWithAccount();
    await store.save(device(account, 'd1', { name: 'v0' }));
    disk.hold();
    const first = store.save(device(account, 'd1', { name: 'v0', key_1: 1 }));
    const write = await disk.next();
    // A PATCH arriving now builds on the newest version (the pending one), as a writer must.
    const newest = store.latest.getDevice(account.id, 'd1')!;
    expect(newest.key_1).toBe(1);
    const second = store.save({ ...newest, key_2: 2 });
    write.refuse();
    await expect(first).rejects.toBeInstanceOf(DatastoreError);
    await expect(second).rejects.toBeInstanceOf(DatastoreError);
    expect(disk.pending()).toBe(0);
    expect(store.latest.getDevice(account.id, 'd1')?.key_1).toBeUndefined();
    const again = await reopen();
    expect(again.getDevice(account.id, 'd1')).toMatchObject({ name: 'v0' });
    expect(again.getDevice(account.id, 'd1')?.key_1).toBeUndefined();
    expect(again.getDevice(account.id, 'd1')?.key_2).toBeUndefined();
  });
});

describe('uniqueness holds while a write is pending, without showing the pending document', () => {
  it('a MAC claimed by a pending save cannot be claimed by a second save racing it', async () => {
    const { disk, store, account } = await storeWithAccount();
    disk.hold();
    const firstSave = store.save(device(account, 'first', { mac_address: '0004f2aaaaaa' }));
    const write = await disk.next();
    expect(store.findDeviceByMac('0004f2aaaaaa')).toBeUndefined();
    const second = prepareDevice({ name: 'second', mac_address: '00:04:f2:aa:aa:aa' }, { store, account, isMaster: true });
    expect(second.errors?.mac_address?.unique).toBeDefined();
    await write.land();
    await firstSave;
    expect(store.findDeviceByMac('0004f2aaaaaa')?.device.id).toBe('first');
  });

  it('a MAC released by a pending save stays taken until that save is durable (it may be refused)', async () => {
    const { disk, store, account } = await storeWithAccount();
    await store.save(device(account, 'holder', { mac_address: '0004f2bbbbbb' }));
    disk.hold();
    const moving = store.save(device(account, 'holder', { mac_address: '0004f2cccccc' }));
    const write = await disk.next();
    const claim = prepareDevice({ name: 'claimer', mac_address: '0004f2bbbbbb' }, { store, account, isMaster: true });
    expect(claim.errors?.mac_address?.unique).toBeDefined();
    write.refuse();
    await expect(moving).rejects.toBeInstanceOf(DatastoreError);
    expect(store.macOwner('0004f2cccccc')).toBeUndefined();
    expect(store.macOwner('0004f2bbbbbb')).toBe('holder');
  });

  it('SIP credentials pending in one account block the same username under that realm from another account', async () => {
    const { disk, store, account } = await storeWithAccount();
    const other = await createAccount(store, { name: 'Other', realm: 'other.test' });
    disk.hold();
    const pending = store.save(device(other, 'o1', { sip: { username: 'alice', password: 'pw-o1' } }));
    const write = await disk.next();
    const sameRealm = prepareDevice({ name: 'x', sip: { username: 'Alice', password: 'pw-x-secret', realm: 'other.test' } }, { store, account, isMaster: true });
    expect(sameRealm.errors?.['sip.username']?.unique).toBeDefined();
    const ownRealm = prepareDevice({ name: 'y', sip: { username: 'alice', password: 'pw-y-secret' } }, { store, account, isMaster: true });
    expect(ownRealm.errors).toBeUndefined();
    await write.land();
    await pending;
  });

  it('through the API, 20 parallel creates with one MAC (and 20 with one username) make exactly one device each', async () => {
    const t = await startTestServer();
    const A = t.master.accountId;
    const auth = { 'X-Auth-Token': t.master.token };
    const put = (data: Record<string, unknown>) => t.http().put(`/v2/accounts/${A}/devices`).set(auth).send({ data });
    const byMac = await Promise.all(Array.from({ length: 20 }, (_, i) => put({ name: `m${i}`, mac_address: '00:04:f2:12:34:56' })));
    expect(byMac.filter((r) => r.status === 201)).toHaveLength(1);
    expect(byMac.filter((r) => r.status === 400 && r.body.data?.mac_address?.unique)).toHaveLength(19);
    const byUser = await Promise.all(Array.from({ length: 20 }, (_, i) => put({ name: `u${i}`, sip: { username: 'Bob', password: `bob-pass-${i}` } })));
    expect(byUser.filter((r) => r.status === 201)).toHaveLength(1);
    expect(byUser.filter((r) => r.status === 400 && r.body.data?.['sip.username']?.unique)).toHaveLength(19);
    expect(t.server.store.listDevices(A)).toHaveLength(2);
    await t.close();
  });
});
