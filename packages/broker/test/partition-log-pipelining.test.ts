import { encodeRecordBatchSync } from '@kch/protocol';
import { memoryStorage, type Storage, type StoredBatch, type TopicPartition } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import { type IncomingBatch, PartitionLog } from '../src/log/partition-log.js';
import { TailCache } from '../src/log/tail-cache.js';

/** A storage that lets two appends of a partition be in flight, settled by the test. */
function pipelinedStorage(): {
  storage: Storage;
  calls: { batches: readonly StoredBatch[]; resolve(): void; reject(e: Error): void }[];
} {
  const inner = memoryStorage();
  const calls: { batches: readonly StoredBatch[]; resolve(): void; reject(e: Error): void }[] = [];
  const storage = Object.create(inner) as Storage & { appendsInFlight: number };
  Object.defineProperty(storage, 'appendsInFlight', { value: 2 });
  storage.append = (tp: TopicPartition, batches: readonly StoredBatch[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({
        batches,
        resolve: () => void inner.append(tp, batches).then(resolve, reject),
        reject,
      });
    });
  return { storage, calls };
}

function incoming(records: number): IncomingBatch[] {
  const bytes = encodeRecordBatchSync({
    records: Array.from({ length: records }, (_, i) => ({
      key: null,
      value: Buffer.from(`v${i}`),
      timestamp: 1000n,
      offsetDelta: i,
    })),
  });
  return [
    {
      bytes,
      lastOffsetDelta: records - 1,
      recordCount: records,
      baseTimestamp: 1000,
      maxTimestamp: 1000,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      isTransactional: false,
      isControl: false,
    },
  ];
}

const tick = () => new Promise((r) => setImmediate(r));

describe('partition log with pipelined appends (Storage.appendsInFlight)', () => {
  it('hands the next append to storage while one is stored, at most two, and acknowledges in order', async () => {
    const { storage, calls } = pipelinedStorage();
    await storage.open();
    await storage.createTopic({ name: 't', topicId: 'x', partitionCount: 1, configs: {}, createdAt: 0 });
    const log = new PartitionLog('t', 0, storage, new TailCache(1 << 20));
    await log.open();
    const acked: number[] = [];
    const a = log.append(incoming(3), false).then((r) => acked.push(r.baseOffset));
    await tick();
    const b = log.append(incoming(2), false).then((r) => acked.push(r.baseOffset));
    await tick();
    const c = log.append(incoming(1), false).then((r) => acked.push(r.baseOffset));
    await tick();
    // Two in flight, the third waits for a slot.
    expect(calls.map((x) => x.batches[0]!.baseOffset)).toEqual([0, 3]);
    expect(log.highWatermark).toBe(0);
    calls[0]!.resolve();
    await a;
    await tick();
    expect(log.highWatermark).toBe(3);
    expect(calls.map((x) => x.batches[0]!.baseOffset)).toEqual([0, 3, 5]);
    calls[1]!.resolve();
    await b;
    calls[2]!.resolve();
    await c;
    expect(acked).toEqual([0, 3, 5]);
    expect(log.highWatermark).toBe(6);
  });

  it('fails the appends in flight after a failed one and assigns their offsets again', async () => {
    const { storage, calls } = pipelinedStorage();
    await storage.open();
    await storage.createTopic({ name: 't', topicId: 'x', partitionCount: 1, configs: {}, createdAt: 0 });
    const log = new PartitionLog('t', 0, storage, new TailCache(1 << 20));
    await log.open();
    const a = log.append(incoming(3), false);
    await tick();
    const b = log.append(incoming(2), false);
    await tick();
    expect(calls.map((x) => x.batches[0]!.baseOffset)).toEqual([0, 3]);
    const outcomes = Promise.allSettled([a, b]);
    calls[0]!.reject(new Error('insert failed'));
    calls[1]!.reject(new Error('an earlier append failed'));
    const [ra, rb] = await outcomes;
    expect(ra).toMatchObject({ status: 'rejected', reason: { errorName: 'KAFKA_STORAGE_ERROR' } });
    expect(rb).toMatchObject({ status: 'rejected', reason: { errorName: 'KAFKA_STORAGE_ERROR' } });
    expect(log.highWatermark).toBe(0);
    const c = log.append(incoming(4), false);
    await tick();
    expect(calls[2]!.batches[0]!.baseOffset).toBe(0);
    calls[2]!.resolve();
    expect((await c).baseOffset).toBe(0);
    expect(log.highWatermark).toBe(4);
    const stored = await storage.read({ topic: 't', partition: 0 }, 0, 1 << 20);
    expect(stored.map((s) => [s.baseOffset, s.lastOffset])).toEqual([[0, 3]]);
  });

  it('waits for every append in flight after a failure before assigning offsets again', async () => {
    const { storage, calls } = pipelinedStorage();
    await storage.open();
    await storage.createTopic({ name: 't', topicId: 'x', partitionCount: 1, configs: {}, createdAt: 0 });
    const log = new PartitionLog('t', 0, storage, new TailCache(1 << 20));
    await log.open();
    const a = log.append(incoming(1), false);
    await tick();
    const b = log.append(incoming(1), false);
    b.catch(() => undefined);
    await tick();
    calls[0]!.reject(new Error('insert failed'));
    await expect(a).rejects.toThrow();
    const c = log.append(incoming(1), false);
    await tick();
    // b is still in flight: nothing new goes to storage until it has settled.
    expect(calls).toHaveLength(2);
    calls[1]!.reject(new Error('an earlier append failed'));
    await expect(b).rejects.toThrow();
    await tick();
    expect(calls[2]!.batches[0]!.baseOffset).toBe(0);
    calls[2]!.resolve();
    expect((await c).baseOffset).toBe(0);
  });
});
