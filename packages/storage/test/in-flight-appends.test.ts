/**
 * The rule of appends in flight (Storage.appendsInFlight), on InFlightAppends alone: the class the
 * broker's partition log and the ClickHouse partition writer both keep it with.
 */
import { describe, expect, it } from 'vitest';
import {
  type AppendSettlement,
  appendEnd,
  earlierAppendRejected,
  InFlightAppends,
  StorageError,
  type StoredBatch,
} from '../src/index.js';

const tp = { topic: 't', partition: 0 };

/** A write the test ends when it likes. */
type W = { promise: Promise<void>; resolve(): void; reject(e: Error): void };

function write(): W {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function writes(n: number) {
  return Array.from({ length: n }, write);
}

/** Just the offsets of a batch: all InFlightAppends looks at. */
function batch(baseOffset: number, count: number): StoredBatch {
  return { baseOffset, lastOffset: baseOffset + count - 1 } as StoredBatch;
}

/**
 * A log kept through InFlightAppends, as a pipelining storage keeps one: batches become visible when
 * their append is stored, and `events` says what settled in which order.
 */
function pipelinedLog(storedEnd = 0) {
  const appends = new InFlightAppends<string>(storedEnd);
  const visible: StoredBatch[] = [];
  const events: string[] = [];
  const append = (
    name: string,
    batches: StoredBatch[],
    w: Promise<unknown>,
    extra?: Partial<AppendSettlement>,
  ) => {
    const end = appends.follow(tp, batches, () => earlierAppendRejected(tp));
    const settlement: AppendSettlement = {
      ...extra,
      stored: () => {
        visible.push(...batches);
        events.push(`${name} stored`);
      },
      rejected: (error) => {
        events.push(`${name} rejected${error === null ? ' (earlier)' : ''}`);
        return error ?? earlierAppendRejected(tp);
      },
    };
    const settled = appends.add(end, w, settlement, name);
    settled.catch(() => undefined);
    return settled;
  };
  return { appends, visible, events, append };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('InFlightAppends', () => {
  it('settles appends in the order they were taken in, whatever order their writes end in', async () => {
    const { appends, visible, events, append } = pipelinedLog(10);
    const [a, b, c] = writes(3) as [W, W, W];
    const pa = append('a', [batch(10, 3)], a.promise);
    const pb = append('b', [batch(13, 2)], b.promise);
    const pc = append('c', [batch(15, 1)], c.promise);
    expect(appends.acceptedEnd).toBe(16);
    expect(appends.size).toBe(3);
    expect(appends.newest()).toBe('c');
    expect(appends.oldest()).toBe('a');
    c.resolve();
    b.resolve();
    await tick();
    // b and c are written, but a is not: nothing counts as stored yet.
    expect(events).toEqual([]);
    expect(appends.storedEnd).toBe(10);
    a.resolve();
    await Promise.all([pa, pb, pc]);
    expect(events).toEqual(['a stored', 'b stored', 'c stored']);
    expect(appends.storedEnd).toBe(16);
    expect(appends.size).toBe(0);
    expect(visible.map((v) => v.baseOffset)).toEqual([10, 13, 15]);
  });

  it('rejects every later append still unsettled when one is rejected, and none of them becomes visible', async () => {
    const { appends, visible, events, append } = pipelinedLog();
    const [a, b, c] = writes(3) as [W, W, W];
    const pa = append('a', [batch(0, 1)], a.promise);
    const pb = append('b', [batch(1, 1)], b.promise);
    const pc = append('c', [batch(2, 1)], c.promise);
    // b and c were written: a storage may have their rows, but they must not count.
    b.resolve();
    c.resolve();
    const failure = new StorageError('UNAVAILABLE', 'insert failed');
    a.reject(failure);
    const outcomes = await Promise.allSettled([pa, pb, pc]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((outcomes[0] as PromiseRejectedResult).reason).toBe(failure);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({
      kind: 'UNAVAILABLE',
      retriable: true,
    });
    expect(events).toEqual(['a rejected', 'b rejected (earlier)', 'c rejected (earlier)']);
    expect(visible).toEqual([]);
    expect(appends.storedEnd).toBe(0);
    expect(appends.acceptedEnd).toBe(0);
    expect(appends.rejections).toBe(3);
  });

  it('appends again from the stored end once the rejected appends have settled', async () => {
    const { appends, visible, events, append } = pipelinedLog();
    const [a, b, c] = writes(3) as [W, W, W];
    const pa = append('a', [batch(0, 2)], a.promise);
    a.resolve();
    await pa;
    const pb = append('b', [batch(2, 2)], b.promise);
    const pc = append('c', [batch(4, 2)], c.promise);
    b.reject(new Error('insert failed'));
    await expect(pb).rejects.toThrow('insert failed');
    // c was handed in before b failed: it still follows b, and is refused retriably until it settles.
    expect(() => appends.follow(tp, [batch(4, 1)], () => earlierAppendRejected(tp))).toThrow(
      /an earlier append to t-0 failed/,
    );
    // A batch that does not follow the stored end is a gap.
    expect(() => appends.follow(tp, [batch(7, 1)], () => earlierAppendRejected(tp))).toThrow(
      /at offset 7, but the log ends at 2/,
    );
    c.resolve();
    await expect(pc).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
    expect(appends.accepts(2)).toBe(true);
    const d = write();
    const pd = append('d', [batch(2, 3)], d.promise);
    d.resolve();
    await pd;
    expect(events).toEqual(['a stored', 'b rejected', 'c rejected (earlier)', 'd stored']);
    expect(visible.map((v) => [v.baseOffset, v.lastOffset])).toEqual([
      [0, 1],
      [2, 4],
    ]);
    expect(appends.storedEnd).toBe(5);
  });

  it('takes at most `max` appends, and none after a rejection until every one has settled', async () => {
    const { appends, append } = pipelinedLog();
    const a = write();
    const b = write();
    const pa = append('a', [batch(0, 1)], a.promise);
    expect(appends.accepts(2)).toBe(true);
    const pb = append('b', [batch(1, 1)], b.promise);
    expect(appends.accepts(2)).toBe(false);
    let ready = false;
    const waiting = appends.whenAccepting(2).then(() => {
      ready = true;
    });
    a.resolve();
    await pa;
    await waiting;
    expect(ready).toBe(true);
    const c = write();
    const pc = append('c', [batch(2, 1)], c.promise);
    b.reject(new Error('insert failed'));
    await expect(pb).rejects.toThrow();
    // One slot is free, but c follows the rejected b: nothing new until c has settled too.
    expect(appends.accepts(2)).toBe(false);
    ready = false;
    const afterAll = appends.whenAccepting(2).then(() => {
      ready = true;
    });
    await tick();
    expect(ready).toBe(false);
    c.resolve();
    await expect(pc).rejects.toThrow();
    await afterAll;
    expect(ready).toBe(true);
    expect(appends.acceptedEnd).toBe(1);
  });

  it('rejects an append whose confirm step fails, and the later ones with it', async () => {
    const { appends, events, append } = pipelinedLog();
    const a = write();
    const pa = append('a', [batch(0, 1)], a.promise, {
      confirm: () => Promise.reject(new Error('checkpoint failed')),
    });
    const pb = append('b', [batch(1, 1)], Promise.resolve());
    a.resolve();
    await expect(pa).rejects.toThrow('checkpoint failed');
    await expect(pb).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
    expect(events).toEqual(['a rejected', 'b rejected (earlier)']);
    expect(appends.storedEnd).toBe(0);
    expect(await appends.settled()).toBe(false);
  });

  it('runs what waits for the appends in flight after them, and later appends after it', async () => {
    const { appends, events, append } = pipelinedLog();
    const a = write();
    const pa = append('a', [batch(0, 1)], a.promise);
    const after = appends.afterSettled(() => events.push('answered'));
    const pb = append('b', [batch(1, 1)], Promise.resolve());
    await tick();
    expect(events).toEqual([]);
    a.resolve();
    await Promise.all([pa, after, pb]);
    expect(events).toEqual(['a stored', 'answered', 'b stored']);
  });

  it('lets appends start over after a rejection once only waiting work is left', async () => {
    const { appends, events, append } = pipelinedLog();
    const a = write();
    const pa = append('a', [batch(0, 1)], a.promise);
    const after = appends.afterSettled(() => events.push('answered'));
    a.reject(new Error('insert failed'));
    await expect(pa).rejects.toThrow();
    // Nothing rejected is in flight: a new append owes nothing to a.
    const pb = append('b', [batch(0, 1)], Promise.resolve());
    await Promise.all([after, pb]);
    expect(events).toEqual(['a rejected', 'answered', 'b stored']);
    expect(appends.storedEnd).toBe(1);
  });
});

describe('appendEnd', () => {
  it('is the end of batches that follow the log without a gap, and INVALID_REQUEST otherwise', () => {
    expect(appendEnd(tp, 5, [batch(5, 2), batch(7, 1)])).toBe(8);
    expect(appendEnd(tp, 5, [])).toBe(5);
    for (const batches of [[batch(6, 1)], [batch(5, 1), batch(7, 1)], [{ baseOffset: 5, lastOffset: 4 }]]) {
      try {
        appendEnd(tp, 5, batches as StoredBatch[]);
        expect.unreachable();
      } catch (e) {
        expect(e).toMatchObject({ kind: 'INVALID_REQUEST', retriable: false });
      }
    }
  });
});
