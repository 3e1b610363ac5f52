import { cp, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/server.js';
import { heldDisk } from '../helpers/held-disk.js';
import { DomainEvents } from '../../src/domain/events.js';
import { DatastoreError, newId, Store } from '../../src/store/store.js';
import { createAccount } from '../../src/accounts/account-service.js';
import { toKazooError } from '../../src/http/error-mapper.js';
import { saveUser } from '../../src/accounts/user-service.js';
import type { AccountDoc, DeviceDoc } from '../../src/domain/types.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const MACS = ['0004f2000011', '0004f2000012', '0004f2000013'];

/** A master account plus a doomed account with a user and three devices, on a disk the test can hold. */
async function setUp() {
  const dataDir = await tempDir('prov-removal-');
  dirs.push(dataDir);
  const disk = heldDisk();
  const store = await Store.open(dataDir, new DomainEvents(), { writeFile: disk.writeFile });
  await createAccount(store, { name: 'Master', realm: 'master.test' });
  const doomed = await createAccount(store, { name: 'Doomed', realm: 'doomed.test', id: 'd0000000000000000000000000000001' });
  await saveUser(store, doomed.id, newId(), { first_name: 'U', last_name: 'Ser', username: 'user1', password: 'user-pass' });
  for (const [i, mac] of MACS.entries()) {
    await store.save({ id: `dev${i}`, pvt_type: 'device', pvt_account_id: doomed.id, name: `dev${i}`, mac_address: mac } as DeviceDoc);
  }
  return { dataDir, disk, store, doomed, reopen: () => Store.open(dataDir, new DomainEvents()) };
}

function expectWhole(store: Store, doomed: AccountDoc) {
  expect(store.getAccount(doomed.id)?.name).toBe('Doomed');
  expect(store.findAccountByRealm('doomed.test')?.id).toBe(doomed.id);
  expect(store.listUsers(doomed.id)).toHaveLength(1);
  expect(store.listDevices(doomed.id).map((d) => d.id).sort()).toEqual(['dev0', 'dev1', 'dev2']);
  for (const mac of MACS) expect(store.findDeviceByMac(mac)?.account.id).toBe(doomed.id);
}

describe('deleting an account is all or nothing', () => {
  it('when the disk refuses the deletion, the account and all its devices remain, and after reopen too', async () => {
    const { disk, store, doomed, reopen } = await setUp();
    disk.hold();
    const removal = store.removeAccount(doomed);
    const write = await disk.next();
    expect(path.basename(write.file)).toBe('docs.json');
    // readers still see everything while the deletion is pending
    expectWhole(store, doomed);
    write.refuse('EIO');
    await expect(removal).rejects.toBeInstanceOf(DatastoreError);
    expectWhole(store, doomed);
    disk.hold(false);
    // the account still works: its devices can be written
    await store.save({ ...store.latest.getDevice(doomed.id, 'dev0')!, name: 'still-here' });
    expectWhole(await reopen(), doomed);
    expect((await reopen()).getDevice(doomed.id, 'dev0')?.name).toBe('still-here');
  });

  it('a deletion that succeeds removes the account, its indexes and its files', async () => {
    const { dataDir, store, doomed, reopen } = await setUp();
    await store.removeAccount(doomed);
    expect(store.getAccount(doomed.id)).toBeUndefined();
    for (const mac of MACS) expect(store.findDeviceByMac(mac)).toBeUndefined();
    expect(await readdir(path.join(dataDir, 'accounts'))).not.toContain(doomed.id);
    const again = await reopen();
    expect(again.getAccount(doomed.id)).toBeUndefined();
    expect(again.listDevices(doomed.id)).toEqual([]);
  });

  it('a crash after the mark and before the commit: at open the account gets its files back', async () => {
    const { dataDir, doomed, reopen } = await setUp();
    // What removeAccount leaves if the process dies after moving the files aside, before the account doc is gone.
    await rename(path.join(dataDir, 'accounts', doomed.id), path.join(dataDir, 'accounts', `.removing-${doomed.id}`));
    const again = await reopen();
    expectWhole(again, doomed);
    expect(await readdir(path.join(dataDir, 'accounts'))).toContain(doomed.id);
  });

  it('a crash after the commit and before the files are gone: nothing resurrects, even under the same id', async () => {
    const { dataDir, store, doomed, reopen } = await setUp();
    const saved = path.join(dataDir, '..', `${path.basename(dataDir)}-files`);
    dirs.push(saved);
    await cp(path.join(dataDir, 'accounts', doomed.id), saved, { recursive: true });
    await store.removeAccount(doomed);
    // The account doc is gone but its files are still there (either place a crash can leave them).
    await cp(saved, path.join(dataDir, 'accounts', doomed.id), { recursive: true });
    await mkdir(path.join(dataDir, 'accounts', `.removing-${doomed.id}`), { recursive: true });
    await cp(saved, path.join(dataDir, 'accounts', `.removing-${doomed.id}`), { recursive: true });
    const again = await reopen();
    expect(again.getAccount(doomed.id)).toBeUndefined();
    for (const mac of MACS) expect(again.findDeviceByMac(mac)).toBeUndefined();
    expect(await readdir(path.join(dataDir, 'accounts'))).toEqual(expect.not.arrayContaining([doomed.id, `.removing-${doomed.id}`]));
    // The deleted id is never given out again (its tombstone stays, as Kazoo's soft delete), and nothing of it
    // comes back after another reopen.
    const reborn = await createAccount(again, { name: 'Reborn', realm: 'reborn.test', id: doomed.id }).catch((err: unknown) => err);
    expect(toKazooError(reborn)).toMatchObject({ status: 409 });
    const last = await reopen();
    expect(last.getAccount(doomed.id)).toBeUndefined();
    expect(last.listDevices(doomed.id)).toEqual([]);
  });

  it('writes to an account being deleted are refused, and leave nothing behind', async () => {
    const { dataDir, disk, store, doomed, reopen } = await setUp();
    disk.hold();
    const removal = store.removeAccount(doomed);
    const write = await disk.next();
    expect(store.latest.getAccount(doomed.id)).toBeUndefined();
    await expect(store.save({ id: 'late', pvt_type: 'device', pvt_account_id: doomed.id, name: 'late', mac_address: '0004f2000099' } as DeviceDoc)).rejects.toBeInstanceOf(DatastoreError);
    await write.land();
    await removal;
    expect(store.macOwner('0004f2000099')).toBeUndefined();
    expect(store.listDevices(doomed.id)).toEqual([]);
    expect(await readdir(path.join(dataDir, 'accounts'))).toEqual([]);
    expect((await reopen()).getDevice(doomed.id, 'late')).toBeUndefined();
  });
});
