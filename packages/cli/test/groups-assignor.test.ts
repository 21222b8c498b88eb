import { describe, expect, it } from 'vitest';
import { rangeAssign, rangeAssigner } from '../src/client/range-assignor.js';

const plain = (plan: Map<string, Map<string, number[]>>) =>
  Object.fromEntries([...plan].map(([m, a]) => [m, Object.fromEntries(a)]));

describe('rangeAssign', () => {
  it("gives the example of Kafka's RangeAssignor javadoc", () => {
    const subs = new Map([
      ['C0', ['t0', 't1']],
      ['C1', ['t0', 't1']],
    ]);
    const counts = new Map([
      ['t0', 3],
      ['t1', 3],
    ]);
    expect(plain(rangeAssign(subs, counts))).toEqual({
      C0: { t0: [0, 1], t1: [0, 1] },
      C1: { t0: [2], t1: [2] },
    });
  });

  it('orders members by id, leaves extra members empty, and skips unknown topics', () => {
    const subs = new Map([
      ['m-b', ['t']],
      ['m-a', ['t', 'gone']],
      ['m-c', ['t']],
    ]);
    expect(plain(rangeAssign(subs, new Map([['t', 2]])))).toEqual({
      'm-a': { t: [0] },
      'm-b': { t: [1] },
      'm-c': {},
    });
  });

  it('assigns each topic among its own subscribers only', () => {
    const subs = new Map([
      ['a', ['x']],
      ['b', ['x', 'y']],
    ]);
    expect(
      plain(
        rangeAssign(
          subs,
          new Map([
            ['x', 4],
            ['y', 2],
          ]),
        ),
      ),
    ).toEqual({
      a: { x: [0, 1] },
      b: { x: [2, 3], y: [0, 1] },
    });
  });
});

describe('rangeAssigner', () => {
  it("takes the members and metadata as @platformatic/kafka's group leader hands them", () => {
    const members = new Map([
      ['m-2', { memberId: 'm-2', version: 0, topics: ['orders'] }],
      ['m-1', { memberId: 'm-1', version: 0, topics: ['orders'] }],
    ]);
    const metadata = {
      id: 'c',
      brokers: new Map(),
      controllerId: 1,
      lastUpdate: 0,
      topics: new Map([['orders', { id: 'u', partitions: [], partitionsCount: 3, lastUpdate: 0 }]]),
    };
    const plan = rangeAssigner('m-1', members, new Set(['orders']), metadata);
    expect(
      Object.fromEntries(plan.map((p) => [p.memberId, [...p.assignments.values()].map((a) => a.partitions)])),
    ).toEqual({ 'm-1': [[0, 1]], 'm-2': [[2]] });
  });
});
