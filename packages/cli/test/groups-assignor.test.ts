import { decodeConsumerProtocolSubscription, Reader } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import { decodeAssignment } from '../src/client/admin.js';
import { encodeAssignment, encodeSubscription, rangeAssign } from '../src/client/group.js';

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

describe('consumer protocol bytes', () => {
  it('round-trips a subscription and an assignment with their version header', () => {
    const sub = encodeSubscription(['orders', 'events']);
    const r = new Reader(sub);
    expect(r.int16()).toBe(0);
    expect(decodeConsumerProtocolSubscription(r, 0).topics).toEqual(['orders', 'events']);

    const bytes = encodeAssignment(new Map([['orders', [0, 2]]]));
    expect(decodeAssignment(bytes)?.assignedPartitions).toEqual([{ topic: 'orders', partitions: [0, 2] }]);
    expect(decodeAssignment(Buffer.alloc(0))).toBeNull();
    expect(decodeAssignment(Buffer.from([0xff, 0xff]))).toBeNull();
  });
});
