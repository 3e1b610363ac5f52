import { describe, expect, it } from 'vitest';
import type { AccountDoc, DeviceDoc, StoredDoc } from '../../src/domain/types.js';
import { DomainEvents, type DomainEvent } from '../../src/domain/events.js';
import { Store } from '../../src/store/store.js';
import type { DocChange, StoreBackend } from '../../src/store/backend.js';
import type { SettleChange } from '../../src/store/sharded-collection.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { tombstoneOf } from '../../src/store/tombstones.js';

/**
 * How the Store takes changes other nodes committed (a shared backend's change feed), on a backend whose
 * commits the test settles by hand: the order of a local commit and a remote change is the test's to choose.
 */
class HeldBackend implements StoreBackend {
  readonly secrets = new SecretBox(Buffer.alloc(32, 7));
  apply: (doc: StoredDoc) => void = () => undefined;
  readonly held: Array<{ change: DocChange; release: () => void }> = [];
  constructor(private readonly docs: StoredDoc[]) {}
  async load() {
    return this.docs;
  }
  commit(change: DocChange, settle: SettleChange): Promise<void> {
    return new Promise((resolve) => {
      this.held.push({
        change,
        release: () => {
          settle(true);
          resolve();
        },
      });
    });
  }
  async removeAccount(_id: string, _tombstone: StoredDoc, settle: SettleChange) {
    settle(true);
  }
  follow(apply: (doc: StoredDoc) => void) {
    this.apply = apply;
  }
  async close() {}
}

const ACC = 'a'.repeat(32);
const account = { id: ACC, name: 'A', realm: 'a.test', pvt_type: 'account', pvt_account_id: ACC, pvt_tree: [], pvt_api_key: 'k', _rev: '1-x', pvt_created: 1, pvt_modified: 1 } as unknown as AccountDoc;
const device = (rev: string, name: string, mac = '001122334455') => ({ id: 'd1', name, mac_address: mac, pvt_type: 'device', pvt_account_id: ACC, _rev: rev, pvt_created: 1, pvt_modified: 1 }) as unknown as DeviceDoc;

async function open(docs: StoredDoc[]) {
  const backend = new HeldBackend(docs);
  const events = new DomainEvents();
  const seen: DomainEvent[] = [];
  events.on((e) => seen.push(e));
  const store = await Store.openOn('/nonexistent', events, backend);
  return { store, backend, seen };
}

describe('changes of other nodes', () => {
  it('are placed in memory and the indexes and announced as remote; an older or equal generation is ignored', async () => {
    const { store, backend, seen } = await open([account, device('1-a', 'one')]);
    backend.apply(device('2-b', 'two', 'aabbccddeeff'));
    expect(store.getDevice(ACC, 'd1')?.name).toBe('two');
    expect(store.findDeviceByMac('aabbccddeeff')?.device.id).toBe('d1');
    expect(store.findDeviceByMac('001122334455')).toBeUndefined();
    backend.apply(device('2-b', 'two', 'aabbccddeeff'));
    backend.apply(device('1-a', 'one'));
    expect(store.getDevice(ACC, 'd1')?.name).toBe('two');
    expect(seen).toEqual([expect.objectContaining({ type: 'device.changed', deviceId: 'd1', origin: 'remote', before: expect.objectContaining({ name: 'one' }), after: expect.objectContaining({ name: 'two' }) })]);
  });

  it('a removal (tombstone) takes the device out and keeps its id taken', async () => {
    const { store, backend, seen } = await open([account, device('1-a', 'one')]);
    backend.apply(tombstoneOf(device('1-a', 'one')));
    expect(store.getDevice(ACC, 'd1')).toBeUndefined();
    expect(store.findDeviceByMac('001122334455')).toBeUndefined();
    expect(store.idTaken('device', ACC, 'd1')).toBe(true);
    expect(seen).toEqual([expect.objectContaining({ type: 'device.changed', origin: 'remote', after: undefined })]);
  });

  it('a local commit that a newer remote version overtook in memory leaves memory on the newer one, announced once', async () => {
    const { store, backend, seen } = await open([account, device('1-a', 'one')]);
    const saving = store.save({ ...store.latest.getDevice(ACC, 'd1')!, name: 'local two' } as DeviceDoc);
    const held = backend.held.shift()!;
    expect(held.change.base).toBe('1-a');
    // Another node built generation 3 on ours and its change arrived before our commit's answer.
    backend.apply(device('3-c', 'remote three'));
    held.release();
    const saved = await saving;
    expect(saved._rev).toMatch(/^2-/);
    expect(store.getDevice(ACC, 'd1')?.name).toBe('remote three');
    expect(seen.map((e) => [e.type, (e as { origin?: string }).origin])).toEqual([['device.changed', 'remote']]);
  });
});
