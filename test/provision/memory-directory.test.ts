import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/account-service.js';
import { saveUser } from '../../src/accounts/user-service.js';
import { DomainEvents } from '../../src/domain/events.js';
import type { DeviceDoc } from '../../src/domain/types.js';
import type { Directory } from '../../src/store/directory.js';
import { Store } from '../../src/store/store.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { tempDir } from '../helpers/server.js';

/**
 * The SIP and provisioning tests run on one in-memory Directory double; it must answer as the real store does,
 * or a test passes on the double and fails in production (the two doubles it replaces disagreed on realm case).
 */
const A = 'a1000000000000000000000000000001';
const B = 'b1000000000000000000000000000002';
const DEVICES: (Partial<DeviceDoc> & { id: string })[] = [
  { id: 'desk', mac_address: '0004f2000001', sip: { username: 'Desk1', password: 'pw-desk' } },
  { id: 'own', sip: { username: 'own1', password: 'pw-own', realm: 'custom.example.com' } },
  { id: 'byip', sip: { method: 'ip', ip: '127.0.0.9', username: 'ip1' } },
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function realStore(): Promise<Store> {
  const dataDir = await tempDir('prov-directory-');
  dirs.push(dataDir);
  const store = await Store.open(dataDir, new DomainEvents());
  await createAccount(store, { name: 'Acme', realm: 'acme.example.com', id: A });
  await createAccount(store, { name: 'Other', realm: 'other.example.com', id: B });
  await saveUser(store, A, 'u1', { first_name: 'Alice', last_name: 'Able' });
  await saveUser(store, B, 'u2', { first_name: 'Bob', last_name: 'Baker' });
  for (const doc of DEVICES) await store.save({ pvt_type: 'device', pvt_account_id: A, name: doc.id, ...doc } as DeviceDoc);
  return store;
}

function double(): MemoryDirectory {
  const dir = new MemoryDirectory();
  dir.addAccount({ id: A, realm: 'acme.example.com', name: 'Acme' });
  dir.addAccount({ id: B, realm: 'other.example.com', name: 'Other' });
  dir.addUser(A, { id: 'u1', first_name: 'Alice', last_name: 'Able' });
  dir.addUser(B, { id: 'u2', first_name: 'Bob', last_name: 'Baker' });
  for (const doc of DEVICES) dir.addDevice(A, doc);
  return dir;
}

/** Every lookup of the Directory interface, answered as ids (undefined when nothing is found). */
function answers(dir: Directory) {
  const ref = (found: { account: { id: string }; device: { id: string } } | undefined) => found && `${found.account.id}/${found.device.id}`;
  return {
    realmAnyCase: dir.findAccountByRealm('ACME.Example.COM')?.id,
    realmUnknown: dir.findAccountByRealm('nope.example.com')?.id,
    userOwn: dir.getUser(A, 'u1')?.id,
    userOfOther: dir.getUser(A, 'u2')?.id,
    deviceOwn: dir.getDevice(A, 'desk')?.id,
    deviceOfOther: dir.getDevice(B, 'desk')?.id,
    mac: ref(dir.findDeviceByMac('0004f2000001')),
    macUnknown: ref(dir.findDeviceByMac('0004f2000002')),
    sipUserAnyCase: ref(dir.findDeviceBySipUsername('ACME.example.com', 'DESK1')),
    sipUserOtherRealm: ref(dir.findDeviceBySipUsername('other.example.com', 'desk1')),
    ownRealm: ref(dir.findDeviceBySipUsername('custom.example.com', 'OWN1')),
    ownRealmUnderAccountRealm: ref(dir.findDeviceBySipUsername('acme.example.com', 'own1')),
    ipDeviceByUsername: ref(dir.findDeviceBySipUsername('acme.example.com', 'ip1')),
    ip: ref(dir.findDeviceByIp('127.0.0.9')),
    ipUnknown: ref(dir.findDeviceByIp('127.0.0.8')),
    users: dir.listUsers?.(A).map((u) => u.id).sort(),
    devices: dir.listDevices(A).map((d) => d.id).sort(),
    accounts: dir.listAccounts().map((a) => a.id).sort(),
  };
}

describe('MemoryDirectory (the test double) answers as the Store', () => {
  it('every lookup gives the store\'s answer', async () => {
    const store = answers(await realStore());
    expect(store).toMatchObject({ realmAnyCase: A, mac: `${A}/desk`, sipUserAnyCase: `${A}/desk`, ownRealm: `${A}/own`, ip: `${A}/byip` });
    expect(answers(double())).toEqual(store);
  });

  it('keeps its documents frozen, as the store does, and an update replaces one with a new _rev', () => {
    const dir = double();
    const before = dir.getDevice(A, 'desk')!;
    expect(Object.isFrozen(before) && Object.isFrozen(before.sip)).toBe(true);
    const after = dir.updateDevice('desk', { name: 'Renamed' });
    expect(after).not.toBe(before);
    expect(after._rev).not.toBe(before._rev);
    expect(dir.getDevice(A, 'desk')).toBe(after);
    expect(before.name).toBe('desk');
  });
});
