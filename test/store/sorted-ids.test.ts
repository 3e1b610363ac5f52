import { describe, expect, it } from 'vitest';
import { SortedIds } from '../../src/store/device-index.js';

/** The account's device order (listings, start_key): appended in bulk at a load, inserted one by one by writes. */
describe('SortedIds', () => {
  const shuffled = (n: number) => {
    const ids = Array.from({ length: n }, (_, i) => `id${String((i * 7919) % n).padStart(5, '0')}`);
    return ids;
  };

  it('reads appended ids in order, once, and keeps that order through later inserts and removals', () => {
    const order = new SortedIds();
    const ids = shuffled(1000);
    for (const id of ids) order.append(id);
    order.append(ids[3]!); // a load that named one id twice
    expect(order.size).toBe(1000);
    expect([...order.from(undefined)]).toEqual([...ids].sort());
    order.add('id00000a');
    order.remove('id00500');
    order.append('id99999'); // appended after reads: sorted again before the next one
    const expected = [...ids.filter((id) => id !== 'id00500'), 'id00000a', 'id99999'].sort();
    expect([...order.from(undefined)]).toEqual(expected);
    expect([...order.from('id00998', true)]).toEqual(expected.filter((id) => id <= 'id00998').reverse());
    expect(order.from('id00998').next().value).toBe('id00998');
  });

  it('inserts and removals alone keep the order (a write never appends)', () => {
    const order = new SortedIds();
    for (const id of ['c', 'a', 'b', 'a']) order.add(id);
    order.remove('b');
    order.remove('zz');
    expect([...order.from(undefined)]).toEqual(['a', 'c']);
    expect([...order.from('b')]).toEqual(['c']);
  });
});
